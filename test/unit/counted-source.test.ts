// Chunks of reused memory (as the pipe reader lends them) through the counters and into a compressor: every byte
// arrives as it was, because each write is waited for before the memory is read into again.
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createGzip, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CountingTap } from '../../src/counts/stream.js';
import { countedSource, feed } from '../../src/pipeline/counted-source.js';
import type { ByteSource } from '../../src/pipeline/pipe-reader.js';

/** `data` in chunks of one buffer that is refilled for every chunk, as PipeReader does. */
function lending(data: Buffer, chunk: number): ByteSource {
  const block = Buffer.alloc(chunk);
  const source = {
    bytes: 0,
    lastActivity: Date.now(),
    async *[Symbol.asyncIterator]() {
      for (let at = 0; at < data.length; at += chunk) {
        const n = data.copy(block, 0, at, at + chunk);
        source.bytes += n;
        yield block.subarray(0, n);
        block.fill(0xee); // the consumer asked for the next chunk: the memory is the reader's again
      }
    },
  };
  return source;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A counter that sees chunks within push() and keeps nothing: it hashes them. */
function hashingTap(): { tap: CountingTap; digest: () => string } {
  const hash = createHash('sha256');
  return {
    tap: new CountingTap({ borrowsChunks: true, push: (c) => void hash.update(c), end: () => ({}) }),
    digest: () => hash.digest('hex'),
  };
}

describe('countedSource', () => {
  it('shows every chunk to the taps before passing it on, and passes every byte', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const { tap, digest } = hashingTap();
    const out: Buffer[] = [];
    const source = countedSource(lending(data, 64 * 1024), [tap]);
    for await (const chunk of source) out.push(Buffer.from(chunk));
    expect(sha(Buffer.concat(out))).toBe(sha(data));
    expect(digest()).toBe(sha(data));
    expect(source.bytes).toBe(data.length);
  });
});

describe('feed', () => {
  it('writes reused memory into a compressor that reads it later (zlib, in the thread pool): every byte as it was', async () => {
    const data = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(`INSERT INTO t VALUES (${i}, '${randomBytes(200).toString('hex')}');\n`)));
    const { tap, digest } = hashingTap();
    const gzip = createGzip();
    const compressed: Buffer[] = [];
    gzip.on('data', (c: Buffer) => compressed.push(c));
    const ended = new Promise((resolve) => gzip.on('end', resolve));
    await feed(lending(data, 16 * 1024), [tap], gzip);
    await ended;
    expect(sha(gunzipSync(Buffer.concat(compressed)))).toBe(sha(data));
    expect(digest()).toBe(sha(data));
  });

  it('rejects when a write fails, and stops reading', async () => {
    const data = randomBytes(1024 * 1024);
    let reads = 0;
    const source = lending(data, 64 * 1024);
    const counting: ByteSource = {
      get bytes() {
        return source.bytes;
      },
      lastActivity: 0,
      async *[Symbol.asyncIterator]() {
        for await (const c of source) {
          reads++;
          yield c;
        }
      },
    };
    let writes = 0;
    const broken = new Writable({ write: (_c, _e, done) => done(++writes === 3 ? new Error('EPIPE') : null) });
    broken.on('error', () => {});
    await expect(feed(counting, [], broken)).rejects.toThrow('EPIPE');
    expect(reads).toBe(3);
  });
});
