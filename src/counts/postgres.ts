// Exact rows per table of one PostgreSQL database: at backup time inside the dump's own snapshot, and after a test
// restore (verify). One query serves both, so the two sides count the same tables the same way.
import type pg from 'pg';
import { connectPg } from '../db/pg.js';
import type { ServerConnection } from '../engines/types.js';

/**
 * User tables: plain tables and partitions (not partitioned parents: their rows are their partitions'), not the
 * catalogs, and not tables an extension creates (pg_dump leaves their data out; CREATE EXTENSION makes them anew).
 */
export const USER_TABLES = `SELECT format('%I.%I', n.nspname, c.relname) AS t
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1`;

/** `schema.table` (quoted where needed) → exact rows, each table counted ONLY itself: no row counted twice. */
export async function countPgTables(c: pg.Client): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { t } of (await c.query<{ t: string }>(USER_TABLES.replace("IN ('r', 'p')", "= 'r'"))).rows) {
    const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${t}`);
    counts[t] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

export interface SnapshotCounter {
  /** The snapshot to hand pg_dump (--snapshot), which then dumps exactly what is counted. */
  snapshot: string;
  /** The counts (they run while the dump does). Rejects when counting failed. */
  counts: Promise<Record<string, number>>;
  /** Ends the exporting transaction once the counts are in: only after pg_dump has imported the snapshot. */
  close(): Promise<void>;
  /** Ends it now, counts or not (the dump failed). */
  abort(): Promise<void>;
}

/**
 * Opens a REPEATABLE READ transaction on the database, exports its snapshot, and counts every user table in it.
 * The transaction stays open (idle) until close(): pg_dump can import the snapshot only while it exists.
 */
export async function startSnapshotCounter(conn: ServerConnection, database: string): Promise<SnapshotCounter> {
  const client = await connectPg(conn, database, 'mydb-backup row counts');
  try {
    // The server's idle-in-transaction timeout would end the export while pg_dump still needs it (pg_dump, too,
    // turns it off for itself).
    // One round trip (the simple protocol runs them in order): pg_dump waits for this snapshot. The counts take one
    // core, not parallel workers: the server is serving its users and pg_dump meanwhile.
    const results = (await client.query(
      'SET idle_in_transaction_session_timeout = 0; SET max_parallel_workers_per_gather = 0; ' +
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot() AS s',
    )) as unknown as pg.QueryResult<{ s: string }>[];
    const snapshot = results.at(-1)?.rows[0]?.s;
    if (!snapshot) throw new Error('pg_export_snapshot() returned nothing');
    const counts = countPgTables(client);
    counts.catch(() => {}); // observed by whoever awaits it; a failure must not be an unhandled rejection meanwhile
    return {
      snapshot,
      counts,
      close: async () => {
        await counts.catch(() => {});
        await client.query('ROLLBACK').catch(() => {});
        await client.end().catch(() => {});
      },
      abort: () => client.end().catch(() => {}),
    };
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}
