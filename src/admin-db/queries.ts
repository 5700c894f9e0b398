// Every SQL statement the tool runs against the admin DB, each a named function.
import type { AdminDb } from './pool.js';
import { parseContainer, type Container } from './container-info.js';

/** Active = has a container_state row whose state is 'running' (admin-db.md). */
export async function activeContainers(db: AdminDb): Promise<Container[]> {
  const { rows } = await db.query<{ id: number; name: string | null; data: unknown }>(
    `SELECT c.id, c.name, c.data
       FROM containers c
       JOIN container_state s ON s.c_id = c.id
      WHERE s.state = 'running'
      ORDER BY c.name, c.id`,
  );
  return rows.map((r) => parseContainer(r.id, r.name ?? `container-${r.id}`, r.data));
}

export interface BackupRow {
  cId: number | null;
  name: string;
  state: 'start' | 'end';
  backupId: string;
  backupType: string;
  url: string;
  command: string;
  errMsg: string;
}

/** ts is naive UTC in this schema: write it explicitly rather than trust the server's TimeZone. */
export async function insertBackupRow(db: AdminDb, row: BackupRow): Promise<void> {
  await db.query(
    `INSERT INTO backups (c_id, name, state, backup_id, backup_type, url, command, err_msg, ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() AT TIME ZONE 'utc')`,
    [row.cId, row.name, row.state, row.backupId, row.backupType, row.url, row.command, row.errMsg],
  );
}

/** Workers: has this container already been started in this run (same type, backup_id of the same local day)? */
export async function startedInRun(db: AdminDb, cId: number | null, name: string, backupType: string, runDay: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM backups
      WHERE (c_id = $1 OR ($1::int IS NULL AND c_id IS NULL AND name = $2))
        AND state = 'start' AND backup_type = $3 AND backup_id LIKE $4 || '%'
      LIMIT 1`,
    [cId, name, backupType, runDay],
  );
  return rows.length > 0;
}
