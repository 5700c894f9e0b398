import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { monotonicNow } from '../util/time.js';

/**
 * Counts the bytes that pass and when the last ones did: the source of progress logs and the stall watchdog. With a
 * digest, also hashes them (restore: checked against the manifest).
 */
export class Meter extends Transform {
  bytes = 0;
  lastActivity = monotonicNow();

  constructor(private readonly digest?: Hash) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.digest?.update(chunk);
    this.bytes += chunk.length;
    this.lastActivity = monotonicNow();
    done(null, chunk);
  }
}
