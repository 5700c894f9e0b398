/**
 * pgbench's own tables (`pgbench -i`): a schema nobody here wrote. Initialised server-side (`--init-steps=dtGvp`:
 * drop, create tables, generate the rows inside PostgreSQL, vacuum, primary keys), which is deterministic: the
 * accounts' filler is blank and balances start at 0, so it compresses far more than application data. The scale
 * is calibrated like the other generators: scale 1 is initialised and dumped, the final scale follows from it.
 */
import type { PgHandle } from '../../test/rig/index.js';
import { sh } from '../measure.js';
import { bash, pgDumpBytes, pgEnv, recreatePgDatabase, type Generated } from './common.js';

/** (Re)creates `db` with pgbench's tables, about `bytes` of pg_dump -Fc -Z0. */
export async function generatePgbench(pg: PgHandle, db: string, bytes: number): Promise<Generated> {
  const started = Date.now();
  await recreatePgDatabase(pg, db);
  // Host, port and user from PGHOST/PGPORT/PGUSER, the password from PGPASSWORD.
  const init = (scale: number) => bash(`pgbench --initialize --init-steps=dtGvp --scale=${scale} --quiet ${sh(db)}`, pgEnv(pg));
  await init(1);
  const scale = Math.max(1, Math.round(bytes / (await pgDumpBytes(pg, db, ['-Z0']))));
  if (scale > 1) await init(scale);
  return {
    description: `pgbench -i --scale=${scale} (${(scale * 100_000).toLocaleString('en')} accounts; blank filler, zero balances)`,
    seconds: (Date.now() - started) / 1000,
  };
}
