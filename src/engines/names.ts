// Object names and key segments: what the engines and the S3 layout share.
import type { Compression } from '../config.js';

export const COMPRESSION_SUFFIX: Record<Compression, string> = { none: '', gzip: '.gz', zstd: '.zst' };

/** The compression an object name says it has (restore recognises old and new names alike). */
export function compressionOf(objectName: string): Compression {
  if (objectName.endsWith('.gz')) return 'gzip';
  if (objectName.endsWith('.zst')) return 'zstd';
  return 'none';
}

/**
 * A container or database name as one S3 key segment: ASCII letters, digits, '.', '_' and '-' only, so no name
 * ('/', '..', spaces, unicode) can leave the container's folder or collide with the layout's separators.
 */
export function safeSegment(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[.]+/, '_');
  return cleaned.length > 0 ? cleaned.slice(0, 200) : '_';
}
