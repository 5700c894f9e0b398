// The admin DB statements of restore, verify and list: the backups log of one container, the container itself, and
// action_log rows. ts columns are naive UTC: written as `now() AT TIME ZONE 'utc'`, read back `AT TIME ZONE 'UTC'`.
import { parseContainer, type Container } from './container-info.js';
import type { AdminDb } from './pool.js';
import { ADMIN_DB_NAME } from '../storage/layout.js';

/** One backup as the backups log tells it: its start and end rows, joined on backup_id and url. */
export interface LoggedBackup {
  backupId: string;
  backupType: string;
  cId: number | null;
  /** Where the backup was written: its folder (several objects) or its one object. */
  url: string;
  start?: Date;
  end?: Date;
  /** err_msg of the end row ('' on success). */
  errMsg: string;
  /** An end row without ERROR. */
  ok: boolean;
}

const FAILED = /^\s*ERROR/;

/** Whose rows: a container's (by c_id, and by name for rows older tools wrote without c_id), or the admin DB's. */
export type LogOwner = { cId: number; name: string } | { adminDb: true; name: string };

/** Every backup of the owner in the log, newest start first. Two backups with one backup_id stay apart by url. */
export async function backupLog(db: AdminDb, owner: LogOwner): Promise<LoggedBackup[]> {
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
      WHERE (c_id = $1 OR (c_id IS NULL AND name = $2)) AND backup_id IS NOT NULL AND state IN ('start', 'end')
      ORDER BY ts, id`,
    // Rows without c_id named like the admin DB's own are the admin DB's, even for a container of that name.
    ['cId' in owner ? owner.cId : null, 'cId' in owner && owner.name === ADMIN_DB_NAME ? null : owner.name],
  );
  const byId = new Map<string, LoggedBackup>();
  for (const r of rows) {
    const key = `${r.backup_id}\n${r.url ?? ''}`;
    const b = byId.get(key) ?? { backupId: r.backup_id, backupType: '', cId: null, url: r.url ?? '', errMsg: '', ok: false };
    b.backupType = r.backup_type ?? b.backupType;
    b.cId = r.c_id ?? b.cId;
    if (r.state === 'start' && r.ts) b.start = r.ts;
    if (r.state === 'end') {
      if (r.ts) b.end = r.ts;
      b.errMsg = r.err_msg ?? '';
      b.ok = !FAILED.test(b.errMsg);
    }
    byId.set(key, b);
  }
  const time = (b: LoggedBackup) => (b.start ?? b.end)?.getTime() ?? -Infinity;
  return [...byId.values()].sort((a, b) => time(b) - time(a));
}

/** A container some name stands for: its row name or its Info.Name is that name. */
export type NamedContainer = Container & { active: boolean };

/** Every container called `name` (row name or Info.Name), running ones first, newest first. */
export async function containersNamed(db: AdminDb, name: string): Promise<NamedContainer[]> {
  const { rows } = await db.query<{ id: number; name: string | null; data: unknown; active: boolean }>(
    `SELECT c.id, c.name, c.data, coalesce(s.state = 'running', false) AS active
       FROM containers c
       LEFT JOIN container_state s ON s.c_id = c.id
      WHERE c.name = $1 OR c.data -> 'Info' ->> 'Name' = $1
      ORDER BY coalesce(s.state = 'running', false) DESC, c.id DESC`,
    [name],
  );
  return rows.map((row) => ({ ...parseContainer(row.id, row.name ?? name, row.data), active: row.active }));
}

/** The container with this id, if any. */
export async function containerById(db: AdminDb, id: number): Promise<NamedContainer | undefined> {
  const { rows } = await db.query<{ id: number; name: string | null; data: unknown; active: boolean }>(
    `SELECT c.id, c.name, c.data, coalesce(s.state = 'running', false) AS active
       FROM containers c LEFT JOIN container_state s ON s.c_id = c.id
      WHERE c.id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? { ...parseContainer(row.id, row.name ?? `container-${row.id}`, row.data), active: row.active } : undefined;
}

export interface ActionLogRow {
  cId: number | null;
  name: string;
  /** restore and verify; the backup watch's 'suspicious' and an operator's 'acknowledge' (watch/flags.ts). */
  action: 'restore' | 'verify' | 'suspicious' | 'acknowledge';
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
