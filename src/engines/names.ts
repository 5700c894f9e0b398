// Compression suffixes of object names: what the engines and restore share.
import type { Compression } from '../config.js';

export const COMPRESSION_SUFFIX: Record<Compression, string> = { none: '', gzip: '.gz', zstd: '.zst' };

/** The compression an object name says it has (restore recognises old and new names alike). */
export function compressionOf(objectName: string): Compression {
  if (objectName.endsWith('.gz')) return 'gzip';
  if (objectName.endsWith('.zst')) return 'zstd';
  return 'none';
}
