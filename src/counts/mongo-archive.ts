// Documents per collection of a mongodump archive, as a row counter: `db.collection` → { db: { collection: n } }.
import { MongoArchiveParser, type ArchiveSummary } from './mongo-archive-reader.js';
import type { StreamRowCounter } from './stream.js';
import type { RowCounts } from './types.js';

/** Database names cannot hold a '.': the first one splits database from collection. */
export function archiveRowCounts(summary: ArchiveSummary): RowCounts {
  const counts: RowCounts = {};
  for (const [ns, docs] of Object.entries(summary.collections)) {
    const dot = ns.indexOf('.');
    const db = dot < 0 ? ns : ns.slice(0, dot);
    (counts[db] ??= {})[dot < 0 ? '' : ns.slice(dot + 1)] = docs;
  }
  return counts;
}

export class MongoArchiveCounter implements StreamRowCounter {
  private readonly parser: MongoArchiveParser;

  constructor(gzip: boolean) {
    this.parser = new MongoArchiveParser({ gzip });
  }

  push(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  backlog(): Promise<void> | undefined {
    return this.parser.backlog();
  }

  async end(): Promise<RowCounts> {
    return archiveRowCounts(await this.parser.end());
  }
}
