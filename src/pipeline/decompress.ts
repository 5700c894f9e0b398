// The counterpart of compress.ts for restores: gzip in zlib, zstd with the zstd program, by the object's name.
import { PassThrough } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Duplex } from 'node:stream';
import type { Compression } from '../engines/compression.js';
import type { Command } from '../engines/types.js';
import type { Masker } from '../util/mask.js';
import { startCommand } from './command.js';

/** The zstd program as restores run it: stdin to stdout. */
export const ZSTD_DECOMPRESS_ARGV: Command['argv'] = ['zstd', '-d', '-q', '-c'];

export interface Decompressor {
  stream: Duplex;
  /** Rejects if the decompressor failed (zstd exiting ≠ 0). */
  finished: Promise<void>;
  kill(reason: string): void;
}

/**
 * A stream undoing `compression`. A corrupt or truncated gzip stream errors (zlib checks the trailer); zstd exits ≠ 0,
 * which `finished` reports: its stdout alone just ends, so the caller must await `finished` before trusting the end.
 */
export async function createDecompressor(compression: Compression, mask: Masker): Promise<Decompressor> {
  if (compression === 'gzip') {
    return { stream: createGunzip({ chunkSize: 256 * 1024 }), finished: Promise.resolve(), kill: () => {} };
  }
  if (compression === 'zstd') {
    const zstd = await startCommand({ argv: ZSTD_DECOMPRESS_ARGV }, { mask, stdin: 'pipe', what: 'zstd -d' });
    if (!zstd.stdin) throw new Error('zstd has no stdin');
    return { stream: Duplex.from({ writable: zstd.stdin, readable: zstd.stdout }), finished: zstd.finished, kill: zstd.kill };
  }
  return { stream: new PassThrough({ highWaterMark: 1024 * 1024 }), finished: Promise.resolve(), kill: () => {} };
}
