// Stream compressions: what the pipeline applies to a dump (and restore undoes), and the suffix each gives an object.
export const STREAM_COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;

/** A stream compression the pipeline applies (and restore undoes) by the object name's suffix. */
export type Compression = (typeof STREAM_COMPRESSIONS)[number];

export const COMPRESSION_SUFFIX: Record<Compression, string> = { none: '', gzip: '.gz', zstd: '.zst' };

/** The compression an object name says it has (restore recognises old and new names alike). */
export function compressionOf(objectName: string): Compression {
  if (objectName.endsWith('.gz')) return 'gzip';
  if (objectName.endsWith('.zst')) return 'zstd';
  return 'none';
}
