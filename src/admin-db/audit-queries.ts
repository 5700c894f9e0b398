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
 * For each container, every row of at most two backup_ids: the one of its newest 'start' row and the one of its
 * newest successful backup (a 'start' whose next row of that backup_id is an 'end' without ERROR). Rows are matched
 * to containers by c_id, or by name when c_id is NULL (older rows); rows without backup_id or ts pair with nothing
 * and are left out. Ordered by ts, id. evaluateAudit() decides on these rows exactly what it would decide on the
 * whole log (see test/audit-db.test.ts). Two scans of the table (rows by c_id, older ones by name); only the active
 * containers' rows are sorted.
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
     logged AS MATERIALIZED (
       SELECT a.container_id, b.id, b.state, b.backup_id COLLATE "C" AS backup_id, b.ts, ${FAILED_SQL} AS failed
         FROM backups b JOIN active a ON a.container_id = b.c_id
        WHERE b.state IN ('start', 'end') AND b.backup_id IS NOT NULL AND b.ts IS NOT NULL
       UNION ALL
       SELECT a.container_id, b.id, b.state, b.backup_id COLLATE "C" AS backup_id, b.ts, ${FAILED_SQL} AS failed
         FROM backups b JOIN active a ON a.name = b.name
        WHERE b.c_id IS NULL AND b.state IN ('start', 'end') AND b.backup_id IS NOT NULL AND b.ts IS NOT NULL
     ),
     newest_start AS (
       SELECT l.container_id, l.backup_id
         FROM logged l
         JOIN (SELECT container_id, max(ts) AS ts FROM logged WHERE state = 'start' GROUP BY container_id) m
           ON m.container_id = l.container_id AND m.ts = l.ts
        WHERE l.state = 'start'
     ),
     -- Per backup_id in time order, an 'end' right after a 'start' closes that start (as pairAttempts() does).
     paired AS (
       SELECT container_id, backup_id, state, failed,
              lag(state) OVER w AS start_state, lag(ts) OVER w AS start_ts, lag(id) OVER w AS start_id
         FROM logged
       WINDOW w AS (PARTITION BY container_id, backup_id ORDER BY ts, id)
     ),
     newest_success AS (
       SELECT DISTINCT ON (container_id) container_id, backup_id
         FROM paired
        WHERE state = 'end' AND NOT failed AND start_state = 'start'
        ORDER BY container_id, start_ts DESC, start_id DESC
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
