// The backup watch's pure parts: the settings (environment and Info.labels), the comparison of a backup with its
// owner's history, the change descriptions, and the action_log rows a flag and an acknowledgement leave.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { folderOfUrl } from '../../src/storage/layout.js';
import { newManifest, type Manifest, type ManifestObject } from '../../src/storage/manifest.js';
import { compareWithHistory, contentsOf, describeChange, median, type Change } from '../../src/watch/compare.js';
import {
  acknowledgeCommand,
  acknowledgeDescription,
  flaggedBackupId,
  flaggedChanges,
  standingFlag,
  suspiciousDescription,
} from '../../src/watch/flags.js';
import { labelsOf, WATCH_DEFAULTS, watchOverrides, type WatchSettings } from '../../src/watch/settings.js';

const SHA = 'a'.repeat(64);

function manifest(objects: Partial<ManifestObject>[], engine = 'Postgres'): Manifest {
  return newManifest({
    name: 'shop',
    backupId: '2026-12-01_02:00:07',
    folder: '20261201T020007.000Z-abcdef',
    owner: { kind: 'container', id: 12, name: 'shop', engine, host: 'db', port: 32010 },
    backupType: 'Daily',
    engine,
    startedAt: '2026-12-01T02:00:07.000Z',
    finishedAt: '2026-12-01T02:01:07.000Z',
    objects: objects.map((o) => ({ name: 'x', bytes: 0, sha256: SHA, ...o })),
  });
}

/** A PostgreSQL backup: globals plus one dump per database, with its tables' rows. */
function pg(databases: Record<string, { bytes: number; tables: Record<string, number> }>): Manifest {
  return manifest([
    { name: 'globals.sql', bytes: 500 },
    ...Object.entries(databases).map(([db, d]) => ({ name: `${db}.dump`, database: db, bytes: d.bytes, rows: { [db]: d.tables } })),
  ]);
}

/** A MariaDB backup: one object, every database known from its counts only. */
const maria = (bytes: number, rows: Record<string, Record<string, number>> | undefined, rowsError?: string) =>
  manifest([{ name: 'all-databases.sql.zst', bytes, ...(rows ? { rows } : {}), ...(rowsError ? { rowsError } : {}) }], 'MariaDB');

const SHOP = { bytes: 100_000, tables: { 'public.orders': 30_000, 'public.customers': 10_000, 'public.tiny': 10 } };
const BLOG = { bytes: 20_000, tables: { 'public.posts': 2_000 } };
const usual = pg({ shop: SHOP, blog: BLOG });
const usualBytes = contentsOf(usual).bytes;
const steady = (n: number) => Array.from({ length: n }, () => usualBytes);

const compare = (current: Manifest, previous: Manifest | undefined, earlierSizes: number[], settings: Partial<WatchSettings> = {}) =>
  compareWithHistory({ current, ...(previous ? { previous } : {}), earlierSizes }, { ...WATCH_DEFAULTS, ...settings });
const kinds = (changes: Change[]) => changes.map((c) => c.kind);

describe('contentsOf: what a manifest says a backup holds', () => {
  it('PostgreSQL: every database with its own object and rows; the total', () => {
    const c = contentsOf(usual);
    expect(c.bytes).toBe(120_500);
    expect([...c.databases.keys()]).toEqual(['shop', 'blog']);
    expect(c.databases.get('shop')).toEqual({ bytes: 100_000, tables: SHOP.tables });
    expect(c.fullyCounted).toBe(true);
    expect(c.rows).toBe(42_010);
  });

  it('MariaDB: databases from the counts; no row total when counting failed', () => {
    expect([...contentsOf(maria(5000, { crm: { contacts: 5 }, mysql: { user: 3 } })).databases.keys()]).toEqual(['crm', 'mysql']);
    const failed = contentsOf(maria(5000, undefined, 'unexpected dump format'));
    expect(failed).toMatchObject({ bytes: 5000, fullyCounted: false });
    expect(failed.rows).toBeUndefined();
  });
});

describe('compareWithHistory: the rules', () => {
  it('a first backup is never flagged, whatever it holds', () => {
    const r = compare(pg({}), undefined, []);
    expect(r.changes).toEqual([]);
    expect(r.notCompared).toBe('first backup: nothing to compare with');
  });

  it('a short history is not flagged (fewer than BACKUP_WATCH_MIN_HISTORY earlier backups)', () => {
    const emptied = pg({ shop: { bytes: 3000, tables: { 'public.orders': 0, 'public.customers': 0, 'public.tiny': 0 } } });
    const r = compare(emptied, usual, steady(2));
    expect(r.changes).toEqual([]);
    expect(r.notCompared).toBe('2 earlier backups, 3 needed before changes are flagged');
    expect(kinds(compare(emptied, usual, steady(2), { minHistory: 2 }).changes)).toContain('emptied');
  });

  it('the same contents, give or take, are not flagged', () => {
    const tomorrow = pg({ shop: { bytes: 101_000, tables: { ...SHOP.tables, 'public.orders': 30_500 } }, blog: BLOG });
    expect(compare(tomorrow, usual, steady(7))).toEqual({ changes: [] });
  });

  it('a table whose rows fell by more than half since the previous backup', () => {
    const cur = pg({ shop: { bytes: 90_000, tables: { ...SHOP.tables, 'public.orders': 1_500 } }, blog: BLOG });
    const { changes } = compare(cur, usual, steady(7));
    expect(changes).toEqual([{ kind: 'rows-drop', database: 'shop', table: 'public.orders', rowsBefore: 30_000, rowsAfter: 1_500 }]);
    expect(describeChange(changes[0]!)).toBe('table shop.public.orders: 30,000 → 1,500 rows (−95%)');
  });

  it('exactly half is not "more than half"; tables under BACKUP_WATCH_MIN_ROWS are not judged on a fall', () => {
    const cur = pg({ shop: { bytes: 90_000, tables: { ...SHOP.tables, 'public.orders': 15_000, 'public.tiny': 0 } }, blog: BLOG });
    expect(compare(cur, usual, steady(7)).changes).toEqual([]);
    expect(kinds(compare(cur, usual, steady(7), { minRows: 10 }).changes)).toEqual(['rows-drop']);
  });

  it('per-container thresholds change the verdict', () => {
    const cur = pg({ shop: { bytes: 90_000, tables: { ...SHOP.tables, 'public.orders': 12_000 } }, blog: BLOG });
    expect(kinds(compare(cur, usual, steady(7)).changes)).toEqual(['rows-drop']);
    expect(compare(cur, usual, steady(7), { rowsDrop: 0.9 }).changes).toEqual([]);
    expect(compare(cur, usual, steady(7), { enabled: false })).toEqual({ changes: [], notCompared: 'not watched (backup_watch is off)' });
  });

  it('a table that existed and is gone, whatever it held', () => {
    const { 'public.tiny': _, ...withoutTiny } = SHOP.tables;
    const { changes } = compare(pg({ shop: { bytes: 100_000, tables: withoutTiny }, blog: BLOG }), usual, steady(3));
    expect(changes).toEqual([{ kind: 'table-gone', database: 'shop', table: 'public.tiny', rowsBefore: 10 }]);
    expect(describeChange(changes[0]!)).toBe('table shop.public.tiny is gone (it had 10 rows)');
  });

  it('a database that is gone: its own object (PostgreSQL), with what it held', () => {
    const { changes } = compare(pg({ shop: SHOP }), usual, steady(7));
    expect(changes).toEqual([{ kind: 'database-gone', database: 'blog', before: { bytes: 20_000, rows: 2_000 } }]);
    expect(describeChange(changes[0]!)).toBe('database blog is gone (it had 19.5 KiB, 2,000 rows)');
  });

  it('a database known from the counts only (MariaDB) is gone only when this backup counted everything', () => {
    const before = maria(50_000, { crm: { contacts: 5000 }, wiki: { pages: 300 } });
    const history = Array.from({ length: 5 }, () => 50_000);
    expect(compare(maria(48_000, { crm: { contacts: 5000 } }), before, history).changes).toEqual([
      { kind: 'database-gone', database: 'wiki', before: { rows: 300 } },
    ]);
    // Counting failed this time: the counts say nothing about what is gone.
    expect(compare(maria(48_000, undefined, 'unexpected dump format'), before, history).changes).toEqual([]);
  });

  it('a backup whose size fell by more than half against the median of the previous 7', () => {
    // The median shrugs off an outlier, and backups older than the last 7 do not count.
    const sizes = [100_000, 100_000, 900_000, 100_000, 100_000, 100_000, 100_000, 5_000_000, 5_000_000];
    const small = manifest([{ name: 'all-databases.sql.zst', bytes: 45_000 }], 'MariaDB');
    const { changes } = compare(small, undefined, sizes);
    expect(changes).toEqual([{ kind: 'size-drop', bytes: 45_000, medianBytes: 100_000, backups: 7 }]);
    expect(describeChange(changes[0]!)).toBe('size fell −55%: 43.9 KiB, against a median of 97.7 KiB over the previous 7 backups');
    expect(compare(manifest([{ name: 'all-databases.sql.zst', bytes: 55_000 }], 'MariaDB'), undefined, sizes).changes).toEqual([]);
    expect(compare(small, undefined, sizes, { sizeDrop: 0.6 }).changes).toEqual([]);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('from data to (almost) nothing: said once, not again table by table', () => {
    const truncated = pg({
      shop: { bytes: 4_000, tables: { 'public.orders': 0, 'public.customers': 0, 'public.tiny': 0 } },
      blog: { bytes: 3_000, tables: { 'public.posts': 0 } },
    });
    const { changes } = compare(truncated, usual, steady(7));
    expect(changes).toEqual([{ kind: 'emptied', before: { bytes: usualBytes, rows: 42_010 }, after: { bytes: 7_500, rows: 0 } }]);
    expect(describeChange(changes[0]!)).toBe('went from data to (almost) nothing: 117.7 KiB → 7.3 KiB, 42,010 → 0 rows');
  });

  it('a server restarted on a fresh volume: nothing left but globals, every database gone', () => {
    const { changes } = compare(pg({}), usual, steady(7));
    expect(kinds(changes)).toEqual(['emptied', 'database-gone', 'database-gone']);
    expect(changes[0]).toEqual({ kind: 'emptied', before: { bytes: usualBytes }, after: { bytes: 500 } });
  });
});

describe('settings: the environment and Info.labels', () => {
  const base = { SQLALCHEMY_ADMIN_URI: 'postgresql://a:b@h/db', AWS_BUCKET_NAME: 's3://my-backups' };

  it('defaults, and BACKUP_WATCH_* from the environment', () => {
    expect(loadConfig(base).watch).toEqual(WATCH_DEFAULTS);
    expect(loadConfig({ ...base, BACKUP_WATCH: 'off', BACKUP_WATCH_ROWS_DROP: '0.9', BACKUP_WATCH_MIN_HISTORY: '5' }).watch).toMatchObject({
      enabled: false,
      rowsDrop: 0.9,
      minHistory: 5,
    });
  });

  it.each([
    [{ BACKUP_WATCH_ROWS_DROP: '50%' }, 'BACKUP_WATCH_ROWS_DROP expected a fraction above 0 and at most 1 (0.5 is 50%), got "50%"'],
    [{ BACKUP_WATCH_SIZE_DROP: '0' }, 'BACKUP_WATCH_SIZE_DROP expected a fraction'],
    [{ BACKUP_WATCH_MIN_HISTORY: '0' }, 'BACKUP_WATCH_MIN_HISTORY expected a whole number from 1 to 100'],
    [{ BACKUP_WATCH: 'maybe' }, 'BACKUP_WATCH expected on or off'],
  ])('%j is refused at start, naming the variable', (override, message) => {
    expect(() => loadConfig({ ...base, ...override })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...override })).toThrow(message);
  });

  it('Info.labels (keys in any case, strings or numbers) override; a bad value is named and left out', () => {
    const data = { Info: { labels: { team: 'x', Backup_Watch_Rows_Drop: 0.9, backup_watch_min_rows: '1000', backup_watch_size_drop: 'lots', backup_watch: 'off' } } };
    expect(watchOverrides(labelsOf(data))).toEqual({
      overrides: { rowsDrop: 0.9, minRows: 1000, enabled: false },
      problems: ['Info.labels.backup_watch_size_drop expected a fraction above 0 and at most 1 (0.5 is 50%), got "lots": BACKUP_WATCH_SIZE_DROP applies'],
    });
    expect(watchOverrides(labelsOf({ info: { Labels: { BACKUP_WATCH: false } } })).overrides).toEqual({ enabled: false });
    expect(watchOverrides(labelsOf({ Info: {} }))).toEqual({ overrides: {}, problems: [] });
    expect(watchOverrides(labelsOf('not json'))).toEqual({ overrides: {}, problems: [] });
  });
});

describe('flags in action_log', () => {
  const changes = ['table shop.public.orders: 30,000 → 1,500 rows (−95%)', 'database blog is gone'];
  const url = 's3://b/mydb/shop.12/20261201T020007.000Z-abcdef/';
  const flagged = { description: suspiciousDescription('2026-12-01_02:00:07', url, changes), at: new Date('2026-12-01T03:00:00Z') };

  it('a suspicious row names its backup and its changes; an acknowledgement names the backup', () => {
    expect(flagged.description).toBe(`backup 2026-12-01_02:00:07 (${url}): 2 changes since the last backup: ${changes.join('; ')}`);
    expect(flaggedBackupId(flagged.description)).toBe('2026-12-01_02:00:07');
    expect(flaggedChanges(flagged.description)).toBe(`2 changes since the last backup: ${changes.join('; ')}`);
    expect(flaggedBackupId(acknowledgeDescription('2026-12-01_02:00:07.2', 'alice@ops1', 'orders archived on purpose'))).toBe('2026-12-01_02:00:07.2');
    const many = suspiciousDescription('id', url, Array.from({ length: 25 }, (_, i) => `table t${i} is gone`));
    expect(many).toContain('table t19 is gone; and 5 more');
    expect(many).not.toContain('t20');
  });

  it('the flag stands while the flagged backup is the newest good one and nobody acknowledged it', () => {
    expect(standingFlag({ suspicious: flagged }, '2026-12-01_02:00:07')).toBe(flagged);
    // A later backup was not flagged: its row would name it.
    expect(standingFlag({ suspicious: flagged }, '2026-12-02_02:00:05')).toBeUndefined();
    const ack = (backupId: string) => ({ description: acknowledgeDescription(backupId, 'alice@ops1'), at: new Date('2026-12-01T09:00:00Z') });
    expect(standingFlag({ suspicious: flagged, acknowledged: ack('2026-12-01_02:00:07') }, '2026-12-01_02:00:07')).toBeUndefined();
    // Acknowledging an older flag does not clear a new one.
    expect(standingFlag({ suspicious: flagged, acknowledged: ack('2026-11-20_02:00:03') }, '2026-12-01_02:00:07')).toBe(flagged);
    expect(standingFlag(undefined, 'x')).toBeUndefined();
  });

  it('the acknowledge command quotes a name the shell would split', () => {
    expect(acknowledgeCommand('shop-prod', 12)).toBe('backup-all acknowledge shop-prod --id 12');
    expect(acknowledgeCommand("Bob's db", 3)).toBe(`backup-all acknowledge 'Bob'\\''s db' --id 3`);
  });
});

describe('folderOfUrl: the backups row url → the folder whose manifest the audit reads', () => {
  it.each([
    ['s3://b/mydb/shop.12/20261201T020007.123Z-9f3a1c/', 'mydb/shop.12/20261201T020007.123Z-9f3a1c/'],
    ['s3://b/mydb/crm.3/20261201T020007.123Z-9f3a1c/all-databases.sql.zst', 'mydb/crm.3/20261201T020007.123Z-9f3a1c/'],
    ['s3://other/mydb/shop.12/20261201T020007.123Z-9f3a1c/', undefined],
    ['s3://b/mydb/shop/2026-12-01_02:00:07/shop_shop.dump', undefined],
    ['', undefined],
  ])('%s', (url, folder) => {
    expect(folderOfUrl('b', 'mydb', url)).toBe(folder);
  });
});
