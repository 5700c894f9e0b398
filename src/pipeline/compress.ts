// Optional stream compression between the dump and the upload. gzip runs in zlib (libuv thread pool, off the
// event loop); zstd runs the zstd program, on every core, which can read the dump straight from a pipe (node then
// handles only the compressed bytes).
import { pipeline, type Writable } from 'node:stream';
import { createGzip, constants } from 'node:zlib';
import type { Compression } from '../engines/compression.js';
import type { Command } from '../engines/types.js';
import type { Masker } from '../util/mask.js';
import { startCommand } from './command.js';
import { Meter } from './meter.js';
import type { ByteSource } from './pipe-reader.js';

/**
 * gzip level 3; zstd level 2 on all cores (-T0). zstd stores a little less than gzip, faster and for less CPU
 * (BENCHMARKS.md, 'Compression default'). Level 2: on application-shaped data (pg_dump -Fc -Z0, MariaDB's SQL) a few
 * percent more bytes than level 3 for much less CPU, while level 1 stores more than the 10% over pg_dump's own zlib
 * allowed (the figures: BENCHMARKS.md, 'PostgreSQL compression').
 */
export const GZIP_LEVEL = 3;
export const ZSTD_LEVEL = 2;

/** The zstd program as the pipeline runs it: stdin to stdout. */
export const ZSTD_ARGV: Command['argv'] = ['zstd', '-q', '-c', `-${ZSTD_LEVEL}`, '-T0'];

export interface Compressor {
  /**
   * Where the dump's bytes go: a stream node writes them into, or (zstd with `fromPipe`) a pipe into zstd for the
   * dump's stdout, to close once the dump has started.
   */
  input: { stream: Writable } | { pipe: { fd: number; close(): void } };
  /** The bytes to store: zstd's stdout read with reused memory, or a Meter after zlib (or after nothing). */
  output: ByteSource;
  /** Rejects if the compressor failed (zstd exiting ≠ 0). */
  finished: Promise<void>;
  kill(reason: string): void;
}

/**
 * `fromPipe`: the dump's bytes need not pass through node (nothing counts them in the stream), so zstd reads them
 * straight from the dump through a pipe of their own: node only reads what zstd writes. (gzip runs in node anyway.)
 */
export async function createCompressor(compression: Compression, mask: Masker, opts: { fromPipe?: boolean } = {}): Promise<Compressor> {
  if (compression === 'zstd') {
    const zstd = await startCommand({ argv: ZSTD_ARGV }, { mask, stdin: opts.fromPipe ? 'fifo' : 'pipe', stdout: 'reader' });
    const input = zstd.stdinPipe ? { pipe: zstd.stdinPipe } : zstd.stdin ? { stream: zstd.stdin } : undefined;
    if (!input) throw new Error('zstd has no stdin');
    return { input, output: zstd.stdout, finished: zstd.finished, kill: zstd.kill };
  }
  const meter = new Meter();
  if (compression === 'gzip') {
    const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: 256 * 1024, strategy: constants.Z_DEFAULT_STRATEGY });
    pipeline(gzip, meter, () => {
      /* errors surface through the upload */
    });
    return { input: { stream: gzip }, output: meter, finished: Promise.resolve(), kill: () => {} };
  }
  return { input: { stream: meter }, output: meter, finished: Promise.resolve(), kill: () => {} };
}
