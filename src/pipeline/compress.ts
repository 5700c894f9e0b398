// Optional stream compression between the dump and the upload. gzip runs in zlib (libuv thread pool, off the
// event loop); zstd runs the zstd program, since Node 20's zlib has no zstd.
import { Duplex, PassThrough } from 'node:stream';
import { createGzip, constants } from 'node:zlib';
import type { Compression } from '../config.js';
import type { Masker } from '../util/mask.js';
import { startCommand } from './command.js';

/**
 * gzip level 3; zstd level 3 on all cores (-T0). On the benchmark's SQL dump zstd stores a little less than gzip at
 * 1.7x the backup speed and about half the CPU (BENCHMARKS.md, 'Compression default').
 */
export const GZIP_LEVEL = 3;
export const ZSTD_LEVEL = 3;

export interface Compressor {
  stream: Duplex;
  /** Rejects if the compressor failed (zstd exiting ≠ 0). */
  finished: Promise<void>;
  kill(reason: string): void;
}

export async function createCompressor(compression: Compression, mask: Masker): Promise<Compressor> {
  if (compression === 'gzip') {
    return {
      stream: createGzip({ level: GZIP_LEVEL, chunkSize: 256 * 1024, strategy: constants.Z_DEFAULT_STRATEGY }),
      finished: Promise.resolve(),
      kill: () => {},
    };
  }
  if (compression === 'zstd') {
    const zstd = await startCommand({ argv: ['zstd', '-q', '-c', `-${ZSTD_LEVEL}`, '-T0'] }, { mask, stdin: 'pipe' });
    if (!zstd.stdin) throw new Error('zstd has no stdin');
    return { stream: Duplex.from({ writable: zstd.stdin, readable: zstd.stdout }), finished: zstd.finished, kill: zstd.kill };
  }
  return { stream: new PassThrough({ highWaterMark: 1024 * 1024 }), finished: Promise.resolve(), kill: () => {} };
}
