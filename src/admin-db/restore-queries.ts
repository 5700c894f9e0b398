// The admin DB statements of restore, verify and list: the backups log of one container, the container itself, and
// action_log rows. ts columns are naive UTC: written as `now() AT TIME ZONE 'utc'`, read back `AT TIME ZONE 'UTC'`.
import { parseContainer, type Container } from './container-info.js';
import type { AdminDb } from './pool.js';

/** One backup as the backups log tells it: its start and end rows, joined on backup_id. */
export interface LoggedBackup {
  backupId: string;
  backupType: string;
  cId: number | null;
  url: string;
  start?: Date;
  end?: Date;
  /** err_msg of the end row ('' on success). */
  errMsg: string;
  /** An end row without ERROR. */
  ok: boolean;
}

const FAILED = /^\s*ERROR/;

/** Every backup of `name` in the log, newest first. */
export async function backupLog(db: AdminDb, name: string): Promise<LoggedBackup[]> {
  const { rows } = await db.query<{
    backup_id: string;
    state: string;
    backup_type: string | null;
    c_id: number | null;
    url: string | null;
    err_msg: string | null;
    ts: Date | null;
  }>(
    `SELECT backup_id, state, backup_type, c_id, url, err_msg, ts AT TIME ZONE 'UTC' AS ts
       FROM backups
      WHERE name = $1 AND backup_id IS NOT NULL AND state IN ('start', 'end')
      ORDER BY ts, id`,
    [name],
  );
  const byId = new Map<string, LoggedBackup>();
  for (const r of rows) {
    const b = byId.get(r.backup_id) ?? { backupId: r.backup_id, backupType: '', cId: null, url: '', errMsg: '', ok: false };
    b.backupType = r.backup_type ?? b.backupType;
    b.cId = r.c_id ?? b.cId;
    b.url = r.url ?? b.url;
    if (r.state === 'start' && r.ts) b.start = r.ts;
    if (r.state === 'end') {
      if (r.ts) b.end = r.ts;
      b.errMsg = r.err_msg ?? '';
      b.ok = !FAILED.test(b.errMsg);
    }
    byId.set(r.backup_id, b);
  }
  return [...byId.values()].sort((a, b) => (a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0));
}

/** The container called `name` (Info.Name or the row's name): the running one if any, else the newest row. */
export async function containerByName(db: AdminDb, name: string): Promise<(Container & { active: boolean }) | undefined> {
  const { rows } = await db.query<{ id: number; name: string | null; data: unknown; active: boolean }>(
    `SELECT c.id, c.name, c.data, coalesce(s.state = 'running', false) AS active
       FROM containers c
       LEFT JOIN container_state s ON s.c_id = c.id
      WHERE c.name = $1 OR c.data -> 'Info' ->> 'Name' = $1
      ORDER BY coalesce(s.state = 'running', false) DESC, c.id DESC
      LIMIT 1`,
    [name],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { ...parseContainer(row.id, row.name ?? name, row.data), active: row.active };
}

export interface ActionLogRow {
  cId: number | null;
  name: string;
  action: 'restore' | 'verify';
  /** What was done, to what, and how it ended; masked by the caller. */
  description: string;
}

export async function insertActionLog(db: AdminDb, row: ActionLogRow): Promise<void> {
  await db.query(
    `INSERT INTO action_log (c_id, name, action, description, ts) VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'utc')`,
    [row.cId, row.name, row.action, row.description],
  );
}

/** When each of `names` was last verified (action_log), for the rotating sample; names never verified are absent. */
export async function lastVerified(db: AdminDb, names: readonly string[]): Promise<Map<string, Date>> {
  if (names.length === 0) return new Map();
  const { rows } = await db.query<{ name: string; ts: Date }>(
    `SELECT name, max(ts) AT TIME ZONE 'UTC' AS ts
       FROM action_log
      WHERE action = 'verify' AND name = ANY($1::text[]) AND ts IS NOT NULL
      GROUP BY name`,
    [names],
  );
  return new Map(rows.map((r) => [r.name, r.ts]));
}
