// The audit's reads of the backups log. The table is append-only and has no index but its primary key, so the
// query scans it once and returns only the few rows the audit needs per container, never the whole history.
import type { Container } from './container-info.js';
import type { AdminDb } from './pool.js';

/** One backups row as the audit reads it. */
export interface BackupLogRow {
  id: number;
  cId: number | null;
  name: string;
  state: string;
  backupId: string | null;
  backupType: string;
  url: string;
  errMsg: string;
  /** The instant of the row: ts is naive UTC in the table and is read as such, whatever TZ this process has. */
  ts: Date;
}

/** Failure as the web UI shows it ("Failed:"): err_msg starting with ERROR. The same rule as isFailureMessage(). */
const FAILED_SQL = `coalesce(err_msg, '') ~ '^\\s*ERROR'`;

/**
 * For each container, every row of two attempts (the rows sharing a backup_id): the one with the newest 'start' row
 * and the newest successful one (a 'start' followed by an 'end' without ERROR). Rows are matched to containers by
 * c_id, or by name when c_id is NULL (older rows). Ordered by ts, id. Enough for evaluateAudit() to decide exactly
 * what it would decide on the whole log (see test/audit-db.test.ts).
 */
export async function latestBackupRows(db: AdminDb, containers: readonly Pick<Container, 'id' | 'name'>[]): Promise<BackupLogRow[]> {
  if (containers.length === 0) return [];
  const { rows } = await db.query<{
    id: number;
    c_id: number | null;
    name: string | null;
    state: string;
    backup_id: string | null;
    backup_type: string | null;
    url: string | null;
    err_msg: string | null;
    ts: Date;
  }>(
    `WITH active(container_id, name) AS (
       SELECT * FROM unnest($1::int[], $2::text[])
     ),
     keys(container_id, k) AS (
       SELECT container_id, '#' || container_id FROM active
       UNION ALL
       SELECT container_id, 'n:' || name FROM active
     ),
     logged AS MATERIALIZED (
       SELECT k.container_id, b.id, b.state, b.backup_id, b.ts, ${FAILED_SQL} AS failed
         FROM backups b
         JOIN keys k ON k.k = coalesce('#' || b.c_id, 'n:' || b.name)
        WHERE b.state IN ('start', 'end') AND b.backup_id IS NOT NULL AND b.ts IS NOT NULL
     ),
     newest_start AS (
       SELECT DISTINCT ON (container_id) container_id, backup_id
         FROM logged
        WHERE state = 'start'
        ORDER BY container_id, ts DESC, id DESC
     ),
     newest_success AS (
       SELECT DISTINCT ON (s.container_id) s.container_id, s.backup_id
         FROM logged s
         JOIN logged e ON e.container_id = s.container_id AND e.backup_id = s.backup_id
        WHERE s.state = 'start' AND e.state = 'end' AND NOT e.failed AND (e.ts, e.id) >= (s.ts, s.id)
        ORDER BY s.container_id, s.ts DESC, s.id DESC
     ),
     wanted AS (
       SELECT container_id, backup_id FROM newest_start
       UNION
       SELECT container_id, backup_id FROM newest_success
     )
     SELECT b.id, b.c_id, b.name, b.state, b.backup_id, b.backup_type, b.url, b.err_msg,
            b.ts AT TIME ZONE 'UTC' AS ts
       FROM backups b
      WHERE b.id IN (SELECT l.id FROM logged l JOIN wanted w USING (container_id, backup_id))
      ORDER BY b.ts, b.id`,
    [containers.map((c) => c.id), containers.map((c) => c.name)],
  );
  return rows.map((r) => ({
    id: r.id,
    cId: r.c_id,
    name: r.name ?? '',
    state: r.state,
    backupId: r.backup_id,
    backupType: r.backup_type ?? '',
    url: r.url ?? '',
    errMsg: r.err_msg ?? '',
    ts: r.ts,
  }));
}
