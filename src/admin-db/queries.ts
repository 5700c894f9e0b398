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

/** Whose rows: a container's (c_id), or the admin DB's own (c_id NULL, its name). */
export interface RowOwner {
  cId: number | null;
  name: string;
}

/** The SQL condition "this row is the owner's", on `alias`, with the owner as parameters $1 (c_id) and $2 (name). */
const ownedBy = (alias: string) => `(${alias}.c_id = $1 OR ($1::int IS NULL AND ${alias}.c_id IS NULL AND ${alias}.name = $2))`;

/**
 * The backup_id for a new backup of the owner at local time `candidate`: the candidate itself, or with a `.2`, `.3`…
 * suffix when the owner's rows already hold it (a second backup in the same second; the hour DST repeats). Called
 * while the owner's claim is held, so no other process picks the same one.
 */
export async function uniqueBackupId(db: AdminDb, owner: RowOwner, candidate: string): Promise<string> {
  const { rows } = await db.query<{ backup_id: string }>(
    `SELECT DISTINCT b.backup_id FROM backups b WHERE ${ownedBy('b')} AND (b.backup_id = $3 OR b.backup_id LIKE $3 || '.%')`,
    [owner.cId, owner.name, candidate],
  );
  if (rows.length === 0) return candidate;
  const taken = new Set(rows.map((r) => r.backup_id));
  let n = 2;
  while (taken.has(`${candidate}.${n}`)) n += 1;
  return `${candidate}.${n}`;
}

/** A 'start' row with no 'end' row of the same backup (backup_id and url). */
export interface OpenStart {
  backupId: string;
  backupType: string;
  url: string;
  command: string;
  /** When it started (UTC). */
  startedAt: Date;
}

/** The owner's backups that started since `since` and have no end row (running, or abandoned by a dead process). */
export async function openStarts(db: AdminDb, owner: RowOwner, since: Date): Promise<OpenStart[]> {
  const { rows } = await db.query<{ backup_id: string; backup_type: string | null; url: string | null; command: string | null; ts: Date }>(
    `SELECT s.backup_id, s.backup_type, s.url, s.command, s.ts AT TIME ZONE 'UTC' AS ts
       FROM backups s
      WHERE s.state = 'start' AND ${ownedBy('s')} AND s.backup_id IS NOT NULL AND s.ts >= ($3::timestamptz AT TIME ZONE 'UTC')
        AND NOT EXISTS (SELECT 1 FROM backups e
                         WHERE e.state = 'end' AND ${ownedBy('e')} AND e.backup_id = s.backup_id
                           AND coalesce(e.url, '') = coalesce(s.url, ''))
      ORDER BY s.ts, s.id`,
    [owner.cId, owner.name, since.toISOString()],
  );
  return rows.map((r) => ({ backupId: r.backup_id, backupType: r.backup_type ?? '', url: r.url ?? '', command: r.command ?? '', startedAt: r.ts }));
}

/** The owner's newest backup that ended since `since`: how it ended. */
export async function lastEndedSince(
  db: AdminDb,
  owner: RowOwner,
  since: Date,
): Promise<{ backupId: string; backupType: string; url: string; ok: boolean } | undefined> {
  const { rows } = await db.query<{ backup_id: string; backup_type: string | null; url: string | null; err_msg: string | null }>(
    `SELECT e.backup_id, e.backup_type, e.url, e.err_msg
       FROM backups e
      WHERE e.state = 'end' AND ${ownedBy('e')} AND e.ts >= ($3::timestamptz AT TIME ZONE 'UTC')
      ORDER BY e.ts DESC, e.id DESC
      LIMIT 1`,
    [owner.cId, owner.name, since.toISOString()],
  );
  const r = rows[0];
  return r ? { backupId: r.backup_id, backupType: r.backup_type ?? '', url: r.url ?? '', ok: !/^\s*ERROR/.test(r.err_msg ?? '') } : undefined;
}

/** How the end row of a backup whose process died begins (run/leftovers.ts writes it). */
export const ABANDONED_ERR_PREFIX = 'ERROR: abandoned:';

/**
 * Workers: has a backup of this type of the owner already ended in this run (backup_id of the same local day)? A
 * backup abandoned by a worker that died does not count: the container still needs its backup.
 */
export async function endedInRun(db: AdminDb, owner: RowOwner, backupType: string, runDay: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM backups e
      WHERE e.state = 'end' AND ${ownedBy('e')} AND e.backup_type = $3 AND e.backup_id LIKE $4 || '%'
        AND NOT starts_with(coalesce(e.err_msg, ''), $5)
      LIMIT 1`,
    [owner.cId, owner.name, backupType, runDay, ABANDONED_ERR_PREFIX],
  );
  return rows.length > 0;
}

/** Whose rows look like leftovers since `since`: owners with a start row and no end row, or a failed end row. */
export async function ownersWithLeftovers(db: AdminDb, since: Date): Promise<RowOwner[]> {
  const { rows } = await db.query<{ c_id: number | null; name: string }>(
    `SELECT DISTINCT b.c_id, b.name
       FROM backups b
      WHERE b.ts >= ($1::timestamptz AT TIME ZONE 'UTC') AND b.backup_id IS NOT NULL
        AND ((b.state = 'end' AND coalesce(b.err_msg, '') ~ '^\\s*ERROR')
          OR (b.state = 'start' AND NOT EXISTS (SELECT 1 FROM backups e
                                                 WHERE e.state = 'end' AND e.backup_id = b.backup_id
                                                   AND coalesce(e.url, '') = coalesce(b.url, '')
                                                   AND e.c_id IS NOT DISTINCT FROM b.c_id AND e.name = b.name)))`,
    [since.toISOString()],
  );
  return rows.map((r) => ({ cId: r.c_id, name: r.name }));
}

/** The owner's failed backups since `since`: where they wrote (their folder, or their one object). */
export async function failedBackupUrls(db: AdminDb, owner: RowOwner, since: Date): Promise<string[]> {
  const { rows } = await db.query<{ url: string }>(
    `SELECT DISTINCT e.url FROM backups e
      WHERE e.state = 'end' AND ${ownedBy('e')} AND e.ts >= ($3::timestamptz AT TIME ZONE 'UTC')
        AND coalesce(e.err_msg, '') ~ '^\\s*ERROR' AND coalesce(e.url, '') <> ''`,
    [owner.cId, owner.name, since.toISOString()],
  );
  return rows.map((r) => r.url);
}

/** Every owner's backups that started since `since` and have no end row: running, or left by a process that died. */
export async function allOpenStarts(db: AdminDb, since: Date): Promise<(OpenStart & RowOwner)[]> {
  const { rows } = await db.query<{ c_id: number | null; name: string; backup_id: string; backup_type: string | null; url: string | null; command: string | null; ts: Date }>(
    `SELECT s.c_id, s.name, s.backup_id, s.backup_type, s.url, s.command, s.ts AT TIME ZONE 'UTC' AS ts
       FROM backups s
      WHERE s.state = 'start' AND s.backup_id IS NOT NULL AND s.ts >= ($1::timestamptz AT TIME ZONE 'UTC')
        AND NOT EXISTS (SELECT 1 FROM backups e
                         WHERE e.state = 'end' AND e.backup_id = s.backup_id AND coalesce(e.url, '') = coalesce(s.url, '')
                           AND e.c_id IS NOT DISTINCT FROM s.c_id AND e.name = s.name)
      ORDER BY s.ts, s.id`,
    [since.toISOString()],
  );
  return rows.map((r) => ({
    cId: r.c_id,
    name: r.name,
    backupId: r.backup_id,
    backupType: r.backup_type ?? '',
    url: r.url ?? '',
    command: r.command ?? '',
    startedAt: r.ts,
  }));
}
