/**
 * The stream row counters alone, in this process, on dumps held in memory: how many MiB/s each reads. A counter
 * rides along every upload (src/counts/), so it must read faster than the dump is written (compare with the dump
 * rates of the main table). No server, no S3; each run checks its counts, so a broken counter cannot look fast.
 */
import { MariadbRowCounter } from '../src/counts/mariadb-sql.js';
import { MongoArchiveParser } from '../src/counts/mongo-archive-reader.js';
import { archiveBuffer, encodeBson } from '../test/fixtures/mongo-archive-writer.mjs';

const MIB = 1024 * 1024;
/** The pieces the counters are handed (the pipe reader hands out up to 512 KiB). */
const PIECE = 512 * 1024;

export interface CounterFigure {
  counter: string;
  /** MiB of dump read per run. */
  mib: number;
  /** Median seconds of the runs. */
  seconds: number;
}

/** mariadb-dump's extended INSERTs: 1000 tuples a line, strings with escapes and parentheses, hex blobs. */
function mariadbDump(bytes: number): { dump: Buffer; rows: number } {
  const tuple = "(123456,'some text with a \\' quote and (parens)',3.14159,'2026-11-27 21:00:00',0xDEADBEEF)";
  const line = Buffer.from(`INSERT INTO \`big\` VALUES ${Array.from({ length: 1000 }, () => tuple).join(',')};\n`);
  const lines = Math.max(1, Math.round(bytes / line.length));
  return { dump: Buffer.concat([Buffer.from('USE `b`;\n'), ...Array.from({ length: lines }, () => line)]), rows: lines * 1000 };
}

/** A plain mongodump archive of one collection of 1 KiB documents. */
function mongoArchive(bytes: number): { archive: Buffer; docs: number } {
  const doc = encodeBson({ _id: 1, name: 'document', qty: 7, blob: Buffer.alloc(980, 0x5a) });
  const docs = Math.max(1, Math.round(bytes / doc.length));
  return { archive: archiveBuffer([{ db: 'shop', collection: 'orders', docs: Array.from({ length: docs }, () => doc) }]), docs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Seconds to feed `data` to a fresh counter in PIECE-sized pieces and end it; `check` throws on a wrong count. */
async function timeOnce<T>(data: Buffer, counter: () => { push(b: Buffer): void; end(): T | Promise<T> }, check: (result: T) => void): Promise<number> {
  const c = counter();
  const started = performance.now();
  for (let i = 0; i < data.length; i += PIECE) c.push(data.subarray(i, i + PIECE));
  const result = await c.end();
  const seconds = (performance.now() - started) / 1000;
  check(result);
  return seconds;
}

export async function measureCounters(bytes: number, runs: number): Promise<CounterFigure[]> {
  const figures: CounterFigure[] = [];

  const { dump, rows } = mariadbDump(bytes);
  const mariadb: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    mariadb.push(
      await timeOnce(dump, () => new MariadbRowCounter(), (counts) => {
        if (counts.b?.big !== rows) throw new Error(`MariadbRowCounter counted ${JSON.stringify(counts)}, not ${rows} rows`);
      }),
    );
  }
  figures.push({ counter: 'MariaDB SQL (MariadbRowCounter)', mib: dump.length / MIB, seconds: median(mariadb) });

  const { archive, docs } = mongoArchive(bytes);
  const mongo: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    mongo.push(
      await timeOnce(archive, () => new MongoArchiveParser({ gzip: false }), (summary) => {
        if (summary.collections['shop.orders'] !== docs) throw new Error(`MongoArchiveParser counted ${JSON.stringify(summary.collections)}, not ${docs} documents`);
      }),
    );
  }
  figures.push({ counter: 'MongoDB archive, plain (MongoArchiveParser)', mib: archive.length / MIB, seconds: median(mongo) });
  return figures;
}
