// The dump's bytes read with reused memory (a PipeReader) and shown to row counters on their way: as the bytes to
// store, or written into a compressor. Instead of a node stream, which allocates (and the kernel zeroes) a fresh
// buffer for every read of the pipe: BENCHMARKS.md, "Where the time went". Only for counters that keep no reference to
// a chunk after seeing it (CountingTap.borrowsChunks): each chunk's memory is read into again once the next is asked for.
import type { Writable } from 'node:stream';
import type { CountingTap } from '../counts/stream.js';
import type { ByteSource } from './pipe-reader.js';

/** `source`, each chunk seen by every tap before it is passed on. */
export function countedSource(source: ByteSource, taps: readonly CountingTap[]): ByteSource {
  return {
    get bytes() {
      return source.bytes;
    },
    get lastActivity() {
      return source.lastActivity;
    },
    async *[Symbol.asyncIterator]() {
      for await (const chunk of source) {
        for (const tap of taps) await tap.see(chunk);
        yield chunk;
      }
    },
  };
}

/**
 * Writes `source` into `into` (a compressor's input), each chunk seen by the taps first, and ends it. Each write is
 * waited for (the chunk's memory is reused after it), which is also the backpressure. Rejects when a write fails; it
 * then stops reading, so the dump gets EPIPE rather than blocking on a full pipe.
 */
export async function feed(source: ByteSource, taps: readonly CountingTap[], into: Writable): Promise<void> {
  try {
    for await (const chunk of countedSource(source, taps)) {
      await new Promise<void>((resolve, reject) => into.write(chunk, (err) => (err ? reject(err) : resolve())));
    }
    await new Promise<void>((resolve, reject) => into.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    into.destroy(err as Error);
    throw err;
  }
}
