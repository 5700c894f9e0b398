// The admin DB statements of the backup watch: containers' Info (their backup_watch_* labels), and the newest
// 'suspicious' / 'acknowledge' action_log rows per container (watch/flags.ts). action_log is small (admin actions),
// so one scan of it is what the audit adds.
import type { FlagRows } from '../watch/flags.js';
import { ACKNOWLEDGE_ACTION, SUSPICIOUS_ACTION } from '../watch/flags.js';
import type { AdminDb } from './pool.js';

/** containers.data of each id (the labels are read from it by watch/settings.ts). */
export async function containerData(db: AdminDb, ids: readonly number[]): Promise<Map<number, unknown>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; data: unknown }>('SELECT id, data FROM containers WHERE id = ANY($1::int[])', [ids]);
  return new Map(rows.map((r) => [r.id, r.data]));
}

/** The newest 'suspicious' and the newest 'acknowledge' row of each of these containers (by c_id). */
export async function latestFlagRows(db: AdminDb, ids: readonly number[]): Promise<Map<number, FlagRows>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ c_id: number; action: string; description: string; ts: Date | null }>(
    `SELECT DISTINCT ON (c_id, action) c_id, action, description, ts AT TIME ZONE 'UTC' AS ts
       FROM action_log
      WHERE c_id = ANY($1::int[]) AND action IN ($2, $3) AND description IS NOT NULL
      ORDER BY c_id, action, ts DESC NULLS LAST, id DESC`,
    [ids, SUSPICIOUS_ACTION, ACKNOWLEDGE_ACTION],
  );
  const flags = new Map<number, FlagRows>();
  for (const r of rows) {
    const entry = flags.get(r.c_id) ?? {};
    const row = { description: r.description, at: r.ts ?? new Date(0) };
    if (r.action === SUSPICIOUS_ACTION) entry.suspicious = row;
    else entry.acknowledged = row;
    flags.set(r.c_id, entry);
  }
  return flags;
}
