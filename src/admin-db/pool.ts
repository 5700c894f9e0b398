import pg from 'pg';
import { CannotStartError, errorText } from '../errors.js';

export type AdminDb = pg.Pool;

/** A small pool on the admin DB; connecting is tested at once so an unreachable DB stops the run early (exit 3). */
export async function connectAdminDb(url: string, mask: (s: string) => string): Promise<AdminDb> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 10_000,
    application_name: 'mydb-backup',
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new CannotStartError(`cannot reach the admin database: ${mask(errorText(err))}`);
  }
  return pool;
}
