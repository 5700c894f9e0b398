// Counting rows in a dump stream as it passes to the upload, without holding it up: a counter that cannot follow the
// stream (an unexpected format) stops counting and says why; the backup itself goes on.
import { Transform, type TransformCallback } from 'node:stream';
import type { RowCounts } from './types.js';

export interface StreamRowCounter {
  push(chunk: Buffer): void;
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

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.failure) {
      try {
        this.counter.push(chunk);
      } catch (err) {
        this.failure = err as Error;
      }
    }
    // Backpressure: the counter must never queue up the dump in memory.
    const backlog = this.failure ? undefined : this.counter.backlog?.();
    if (backlog) backlog.then(() => done(null, chunk), () => done(null, chunk));
    else done(null, chunk);
  }

  /** After the stream ended: the counts, or why there are none. */
  async result(): Promise<{ counts: RowCounts } | { error: string }> {
    if (this.failure) return { error: this.failure.message };
    try {
      return { counts: await this.counter.end() };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}
