// When a backup's contents count as a suspicious change: the thresholds, their defaults, and where an operator sets
// them: globally in the environment (BACKUP_WATCH_*, read by config.ts) or per container in the admin DB's
// Info.labels (backup_watch_*, the same names in lower case), which win. One parser for both, so a value means the
// same wherever it is written. Pure.
import { getInsensitive } from '../admin-db/container-info.js';

export interface WatchSettings {
  /** false: the container's backups are never compared (BACKUP_WATCH / backup_watch: off). */
  enabled: boolean;
  /** A table whose rows fell by more than this fraction since the previous backup is flagged. */
  rowsDrop: number;
  /** A backup smaller than the median of the previous 7 by more than this fraction is flagged. */
  sizeDrop: number;
  /** "(Almost) nothing": rows (or, not counted, bytes) at most this fraction of what the container held. */
  empty: number;
  /** Tables with fewer rows than this in the previous backup are not judged on a fall of their rows. */
  minRows: number;
  /** Fewer earlier good backups than this: nothing is flagged yet (first backups, short histories). */
  minHistory: number;
}

export const WATCH_DEFAULTS: WatchSettings = { enabled: true, rowsDrop: 0.5, sizeDrop: 0.5, empty: 0.01, minRows: 100, minHistory: 3 };

/** The environment variable of each setting; its Info.labels key is the same in lower case. */
export const WATCH_ENV: Record<keyof WatchSettings, string> = {
  enabled: 'BACKUP_WATCH',
  rowsDrop: 'BACKUP_WATCH_ROWS_DROP',
  sizeDrop: 'BACKUP_WATCH_SIZE_DROP',
  empty: 'BACKUP_WATCH_EMPTY',
  minRows: 'BACKUP_WATCH_MIN_ROWS',
  minHistory: 'BACKUP_WATCH_MIN_HISTORY',
};

export const watchLabel = (key: keyof WatchSettings) => WATCH_ENV[key].toLowerCase();

type Parsed<T> = { value: T } | { error: string };

const text = (raw: unknown) => (typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : typeof raw === 'string' ? raw.trim().toLowerCase() : undefined);

function parseEnabled(raw: unknown): Parsed<boolean> {
  const v = text(raw);
  if (v !== undefined && ['1', 'true', 'yes', 'on'].includes(v)) return { value: true };
  if (v !== undefined && ['0', 'false', 'no', 'off'].includes(v)) return { value: false };
  return { error: `expected on or off, got ${JSON.stringify(raw)}` };
}

function parseFraction(raw: unknown): Parsed<number> {
  const v = text(raw);
  const n = v === undefined || v === '' ? NaN : Number(v);
  if (Number.isFinite(n) && n > 0 && n <= 1) return { value: n };
  return { error: `expected a fraction above 0 and at most 1 (0.5 is 50%), got ${JSON.stringify(raw)}` };
}

const parseCount = (min: number, max: number) => (raw: unknown): Parsed<number> => {
  const v = text(raw);
  const n = v === undefined || v === '' ? NaN : Number(v);
  if (Number.isInteger(n) && n >= min && n <= max) return { value: n };
  return { error: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}` };
};

const PARSERS: { [K in keyof WatchSettings]: (raw: unknown) => Parsed<WatchSettings[K]> } = {
  enabled: parseEnabled,
  rowsDrop: parseFraction,
  sizeDrop: parseFraction,
  empty: parseFraction,
  minRows: parseCount(0, 1_000_000_000),
  // At least one earlier backup: there is nothing to compare with before.
  minHistory: parseCount(1, 100),
};

/** One setting's value as the environment or a label writes it. */
export function parseWatchSetting<K extends keyof WatchSettings>(key: K, raw: unknown): Parsed<WatchSettings[K]> {
  return PARSERS[key](raw);
}

/** containers.data → its Info.labels (keys in any case), where the per-container settings are. */
export const labelsOf = (data: unknown): unknown => getInsensitive(getInsensitive(data, 'info'), 'labels');

/**
 * A container's own settings from its Info.labels (keys in any case). A value that does not parse is left out, named
 * in `problems`: the global setting applies, and the backup is not affected.
 */
export function watchOverrides(labels: unknown): { overrides: Partial<WatchSettings>; problems: string[] } {
  const overrides: Partial<WatchSettings> = {};
  const problems: string[] = [];
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return { overrides, problems };
  const byLowerKey = new Map(Object.entries(labels).map(([k, v]) => [k.toLowerCase(), v] as const));
  for (const key of Object.keys(PARSERS) as (keyof WatchSettings)[]) {
    const raw = byLowerKey.get(watchLabel(key));
    if (raw === undefined || raw === null) continue;
    const parsed = parseWatchSetting(key, raw);
    if ('error' in parsed) problems.push(`Info.labels.${watchLabel(key)} ${parsed.error}: ${WATCH_ENV[key]} applies`);
    else (overrides as Record<string, unknown>)[key] = parsed.value;
  }
  return { overrides, problems };
}
