// Counting rows in a dump stream as it passes to the upload, without holding it up: a counter that cannot follow the
// stream (an unexpected format) stops counting and says why; the backup itself goes on.
import { Transform, type TransformCallback } from 'node:stream';
import type { RowCounts } from './types.js';
import { errorText } from '../errors.js';

export interface StreamRowCounter {
  push(chunk: Buffer): void;
  /**
   * Reads each chunk within push() and keeps no reference to it: it may be shown memory that is reused right after
   * (the pipe reader's, pipe-reader.ts). A counter that queues chunks (gunzip) must not say so.
   */
  readonly borrowsChunks?: boolean;
  /** A counter that works off the main thread (gunzip) says here when the stream must wait for it to catch up. */
  backlog?(): Promise<void> | undefined;
  /** The counts; throws (rejects) when the stream ended where it could not (cut, corrupt). */
  end(): RowCounts | Promise<RowCounts>;
}

/** A pass-through that shows every chunk to the counter. */
export class CountingTap extends Transform {
  private failure: Error | undefined;

  constructor(private readonly counter: StreamRowCounter) {
    super({ highWaterMark: 1024 * 1024 });
  }

  /** The counter may be shown chunks of reused memory (StreamRowCounter.borrowsChunks), outside a stream: see(). */
  get borrowsChunks(): boolean {
    return this.counter.borrowsChunks === true;
  }

  /** Shows one chunk to the counter; a promise when the stream must wait for the counter before going on. */
  see(chunk: Buffer): Promise<void> | undefined {
    if (this.failure) return undefined;
    try {
      this.counter.push(chunk);
    } catch (err) {
      this.failure = err as Error;
      return undefined;
    }
    // Backpressure: the counter must never queue up the dump in memory.
    return this.counter.backlog?.()?.catch(() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const backlog = this.see(chunk);
    if (backlog) void backlog.then(() => done(null, chunk));
    else done(null, chunk);
  }

  /** After the stream ended: the counts, or why there are none. */
  async result(): Promise<{ counts: RowCounts } | { error: string }> {
    if (this.failure) return { error: this.failure.message };
    try {
      return { counts: await this.counter.end() };
    } catch (err) {
      return { error: errorText(err) };
    }
  }
}
