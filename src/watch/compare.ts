// "Is this what the container held last time, give or take?": a backup's manifest against the owner's earlier good
// backups. A flagged change never makes a backup bad (it is a faithful copy of what was there); it is news for an
// operator: a table emptied by an application bug, the wrong database after a migration, a server restarted on a
// fresh volume. Pure: manifests and sizes in, changes out.
import type { Manifest } from '../storage/manifest.js';
import { formatBytes } from '../util/format.js';
import type { WatchSettings } from './settings.js';

/** One database as a manifest tells it. */
export interface DatabaseContents {
  /** Bytes of its own object (PostgreSQL's per-database dumps); absent when it shares one (MariaDB, MongoDB). */
  bytes?: number;
  /** Rows per table; absent when they were not counted. */
  tables?: Record<string, number>;
}

/** What one backup holds, as far as its manifest says. */
export interface Contents {
  bytes: number;
  databases: Map<string, DatabaseContents>;
  /** Every object's rows were counted (no object says why not): a database missing from the counts is gone. */
  fullyCounted: boolean;
  /** Rows of every table, when fully counted and anything was counted. */
  rows?: number;
}

export function contentsOf(manifest: Manifest): Contents {
  const databases = new Map<string, DatabaseContents>();
  const entry = (db: string) => databases.get(db) ?? databases.set(db, {}).get(db)!;
  let bytes = 0;
  let counted = false;
  let fullyCounted = true;
  for (const o of manifest.objects) {
    bytes += o.bytes;
    if (o.database !== undefined) entry(o.database).bytes = o.bytes;
    if (o.rowsError !== undefined) fullyCounted = false;
    for (const [db, tables] of Object.entries(o.rows ?? {})) {
      counted = true;
      entry(db).tables = { ...entry(db).tables, ...tables };
    }
  }
  let rows: number | undefined;
  if (fullyCounted && counted) rows = [...databases.values()].reduce((n, d) => n + sumRows(d.tables), 0);
  return { bytes, databases, fullyCounted, ...(rows !== undefined ? { rows } : {}) };
}

const sumRows = (tables: Record<string, number> | undefined) => Object.values(tables ?? {}).reduce((n, r) => n + r, 0);

export type Change =
  /** The container went from data to (almost) nothing. */
  | { kind: 'emptied'; before: { bytes: number; rows?: number }; after: { bytes: number; rows?: number } }
  /** The backup is much smaller than the median of the previous ones. */
  | { kind: 'size-drop'; bytes: number; medianBytes: number; backups: number }
  | { kind: 'database-gone'; database: string; before: { bytes?: number; rows?: number } }
  | { kind: 'table-gone'; database: string; table: string; rowsBefore: number }
  | { kind: 'rows-drop'; database: string; table: string; rowsBefore: number; rowsAfter: number };

export interface History {
  current: Manifest;
  /** The newest earlier good backup's manifest (undefined: none, or not read). */
  previous?: Manifest;
  /** Sizes of the earlier good backups, newest first (from the listing). */
  earlierSizes: readonly number[];
}

export interface Comparison {
  changes: Change[];
  /** Why nothing was compared (watch off, short history), when so. */
  notCompared?: string;
}

/** How many earlier backups the size is compared with (their median). */
export const SIZE_WINDOW = 7;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Why a backup with `earlier` earlier good backups is not compared at all; undefined when it is. */
export function whyNotCompared(settings: WatchSettings, earlier: number): string | undefined {
  if (!settings.enabled) return 'not watched (backup_watch is off)';
  if (earlier === 0) return 'first backup: nothing to compare with';
  if (earlier < settings.minHistory) return `${earlier} earlier backup${earlier === 1 ? '' : 's'}, ${settings.minHistory} needed before changes are flagged`;
  return undefined;
}

/**
 * The rules, each against the earlier good backups: a database or table of the previous backup that is gone; a table
 * whose rows fell by more than `rowsDrop` since the previous backup (tables of at least `minRows`); a backup smaller
 * than the median of the last 7 by more than `sizeDrop`; a container that went from data to at most `empty` of it
 * (rows where both backups counted them, else bytes against the median). Emptied says it all: the falls of its
 * tables and of its size are not listed again. Nothing is flagged with fewer than `minHistory` earlier backups.
 */
export function compareWithHistory(history: History, settings: WatchSettings): Comparison {
  const notCompared = whyNotCompared(settings, history.earlierSizes.length);
  if (notCompared) return { changes: [], notCompared };
  const current = contentsOf(history.current);
  const previous = history.previous ? contentsOf(history.previous) : undefined;
  const window = history.earlierSizes.slice(0, SIZE_WINDOW);
  const medianBytes = median(window);
  const changes: Change[] = [];

  const rowsEmptied =
    previous?.rows !== undefined && current.rows !== undefined && previous.rows >= settings.minRows && current.rows <= previous.rows * settings.empty;
  const bytesEmptied = medianBytes > 0 && current.bytes <= medianBytes * settings.empty;
  const emptied = rowsEmptied || bytesEmptied;
  if (emptied) {
    const rowsKnown = previous?.rows !== undefined && current.rows !== undefined;
    changes.push({
      kind: 'emptied',
      before: { bytes: history.earlierSizes[0] ?? medianBytes, ...(rowsKnown ? { rows: previous!.rows } : {}) },
      after: { bytes: current.bytes, ...(rowsKnown ? { rows: current.rows } : {}) },
    });
  } else if (medianBytes > 0 && current.bytes < medianBytes * (1 - settings.sizeDrop)) {
    changes.push({ kind: 'size-drop', bytes: current.bytes, medianBytes, backups: window.length });
  }

  if (!previous) return { changes };
  for (const [database, before] of previous.databases) {
    const after = current.databases.get(database);
    if (!after) {
      // A database that had its own object is gone when the object is; one known only from the counts, when the
      // current backup counted everything.
      if (before.bytes !== undefined || current.fullyCounted) {
        const rows = before.tables ? sumRows(before.tables) : undefined;
        changes.push({ kind: 'database-gone', database, before: { ...(before.bytes !== undefined ? { bytes: before.bytes } : {}), ...(rows !== undefined ? { rows } : {}) } });
      }
      continue;
    }
    if (!before.tables || !after.tables) continue;
    for (const [table, rowsBefore] of Object.entries(before.tables)) {
      const rowsAfter = after.tables[table];
      if (rowsAfter === undefined) changes.push({ kind: 'table-gone', database, table, rowsBefore });
      else if (!emptied && rowsBefore >= settings.minRows && rowsAfter < rowsBefore * (1 - settings.rowsDrop)) {
        changes.push({ kind: 'rows-drop', database, table, rowsBefore, rowsAfter });
      }
    }
  }
  return { changes };
}

const count = (n: number) => n.toLocaleString('en-US');
const fallPercent = (before: number, after: number) => (before > 0 ? `−${Math.round(((before - after) / before) * 100)}%` : '');

/** One line, with the figures before and after. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'emptied': {
      const rows = c.before.rows !== undefined && c.after.rows !== undefined ? `, ${count(c.before.rows)} → ${count(c.after.rows)} rows` : '';
      return `went from data to (almost) nothing: ${formatBytes(c.before.bytes)} → ${formatBytes(c.after.bytes)}${rows}`;
    }
    case 'size-drop':
      return `size fell ${fallPercent(c.medianBytes, c.bytes)}: ${formatBytes(c.bytes)}, against a median of ${formatBytes(c.medianBytes)} over the previous ${c.backups} backup${c.backups === 1 ? '' : 's'}`;
    case 'database-gone': {
      const was = [c.before.bytes !== undefined ? formatBytes(c.before.bytes) : '', c.before.rows !== undefined ? `${count(c.before.rows)} rows` : ''].filter(Boolean);
      return `database ${c.database} is gone${was.length ? ` (it had ${was.join(', ')})` : ''}`;
    }
    case 'table-gone':
      return `table ${c.database}.${c.table} is gone (it had ${count(c.rowsBefore)} rows)`;
    case 'rows-drop':
      return `table ${c.database}.${c.table}: ${count(c.rowsBefore)} → ${count(c.rowsAfter)} rows (${fallPercent(c.rowsBefore, c.rowsAfter)})`;
  }
}
