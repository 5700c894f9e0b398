/**
 * The audit against a real admin DB: latestBackupRows() reads instants right whatever the server's and the process's
 * time zones, returns only the attempts that matter, and the audit decides on them exactly as on the whole log.
 * Then runAudit() end to end: table, --json, --prom and the exit code.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { latestBackupRows, type BackupLogRow } from '../src/admin-db/audit-queries.js';
import type { AdminDb } from '../src/admin-db/pool.js';
import { activeContainers } from '../src/admin-db/queries.js';
import { evaluateAudit } from '../src/audit/evaluate.js';
import { lockKey } from '../src/admin-db/locks.js';
import { runAudit } from '../src/commands/audit.js';
import { loadConfig } from '../src/config.js';
import { makeMasker } from '../src/util/mask.js';
import { adminDbName, createAdminDb } from './helpers/admin-db.js';
import { getRig } from './helpers/rig.js';
import { withPgClient } from './rig/postgres.js';

const rig = getRig();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = new Date('2024-10-27T08:00:00Z'); // the morning after Europe's clocks went back

let url: string;
let db: AdminDb;
const ids: Record<string, number> = {};

/** A naive UTC timestamp literal, as the backups.ts column holds it. */
const naiveUtc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

interface Insert {
  cId: number | null;
  name: string;
  state: 'start' | 'end';
  backupId: string;
  ts: Date;
  errMsg?: string;
  type?: string;
}

async function insertRows(rows: Insert[]): Promise<void> {
  await withPgClient(url, async (c) => {
    for (const r of rows) {
      await c.query(
        `INSERT INTO backups (c_id, name, state, backup_id, backup_type, url, command, err_msg, ts)
         VALUES ($1, $2, $3, $4, $5, $6, 'pg_dump ***', $7, $8::timestamp)`,
        [r.cId, r.name, r.state, r.backupId, r.type ?? 'Daily', `s3://bucket/mydb/${r.name}/${r.backupId}/`, r.errMsg ?? '', naiveUtc(r.ts)],
      );
    }
  });
}

function backup(cId: number | null, name: string, backupId: string, start: Date, durationMs: number, errMsg = ''): Insert[] {
  return [
    { cId, name, state: 'start', backupId, ts: start },
    { cId, name, state: 'end', backupId, ts: new Date(start.getTime() + durationMs), errMsg },
  ];
}

/** The whole log, read with the same UTC rule: what the subset must decide the same as. */
async function allRows(): Promise<BackupLogRow[]> {
  const { rows } = await db.query(
    `SELECT id, c_id AS "cId", coalesce(name, '') AS name, state, backup_id AS "backupId", coalesce(backup_type, '') AS "backupType",
            coalesce(url, '') AS url, coalesce(err_msg, '') AS "errMsg", ts AT TIME ZONE 'UTC' AS ts
       FROM backups ORDER BY id`,
  );
  return rows as BackupLogRow[];
}

beforeAll(async () => {
  const name = adminDbName('audit');
  url = await createAdminDb(rig.admin, name, [
    { name: 'wiki', engine: 'Postgres', port: 32011, state: null }, // an earlier container named wiki, deleted
    { name: 'shop', engine: 'Postgres', port: 32010 },
    { name: 'crm', engine: 'MariaDB', port: 32012, freq: 'Weekly' },
    { name: 'legacy', engine: 'Postgres', port: 32013, freq: null },
    { name: 'scratch', engine: 'MongoDB', port: 32014, freq: 'None' },
    { name: 'stopped', engine: 'Postgres', port: 32015, state: 'exited' },
    { name: 'wiki', engine: 'Postgres', port: 32016 },
    { name: 'broken', engine: 'Postgres', port: 32017 },
    { name: 'hung', engine: 'Postgres', port: 32018 },
    { name: 'never', engine: 'MariaDB', port: 32019 },
    { name: 'overlap', engine: 'Postgres', port: 32020 },
  ]);
  // The server's session time zone is neither UTC nor the process's: reading ts must not depend on either.
  await withPgClient(url, (c) => c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} SET timezone TO 'America/New_York'`));
  await withPgClient(url, async (c) => {
    // Names repeat: the first wiki is the deleted one.
    for (const r of (await c.query<{ id: number; name: string }>('SELECT id, name FROM containers ORDER BY id')).rows) {
      ids[r.name === 'wiki' && !('deletedWiki' in ids) ? 'deletedWiki' : r.name] = r.id;
    }
  });
  db = new pg.Pool({ connectionString: url, max: 2 });

  const rows: Insert[] = [];
  // shop: a month of nightly history (02:30 local Berlin, i.e. 00:30/01:30 UTC), the newest across the DST change.
  for (let day = 30; day >= 1; day--) {
    const start = new Date(Date.UTC(2024, 9, 27 - day, 0, 30));
    rows.push(...backup(ids.shop!, 'shop', `shop-${day}`, start, 17 * MIN, day === 12 ? 'ERROR: pg_dump exited with code 1' : ''));
  }
  // The newest ran across midnight UTC and across the DST change (01:00 UTC): 23:30 → 01:05 UTC.
  rows.push(...backup(ids.shop!, 'shop', 'shop-0', new Date('2024-10-26T23:30:00Z'), 95 * MIN));
  // crm (Weekly): last Sunday's backup, then a User backup still running.
  rows.push(...backup(ids.crm!, 'crm', 'crm-weekly', ago(6 * DAY + 20 * HOUR), 2 * HOUR));
  rows.push({ cId: ids.crm!, name: 'crm', state: 'start', backupId: 'crm-user', ts: ago(30 * MIN), type: 'User' });
  // legacy: only rows written before c_id existed (NULL), matched by name.
  rows.push(...backup(null, 'legacy', 'legacy-old', ago(3 * DAY), 5 * MIN));
  rows.push(...backup(null, 'legacy', 'legacy-new', ago(20 * HOUR), 5 * MIN));
  // wiki: the deleted wiki's rows (its own c_id) must not count; today's wiki last backed up 3 days ago.
  rows.push(...backup(ids.deletedWiki!, 'wiki', 'wiki-deleted-container', ago(2 * HOUR), MIN));
  rows.push(...backup(null, 'wiki', 'wiki-old', ago(3 * DAY), MIN));
  // broken: failed last night after a good run the night before.
  rows.push(...backup(ids.broken!, 'broken', 'broken-1', ago(30 * HOUR), 5 * MIN));
  rows.push(...backup(ids.broken!, 'broken', 'broken-0', ago(6 * HOUR), MIN, 'ERROR: connection refused\nstderr tail'));
  // hung: started 14 h ago, never ended; the backup before it ended late (out of order).
  rows.push({ cId: ids.hung!, name: 'hung', state: 'start', backupId: 'hung-1', ts: ago(40 * HOUR) });
  rows.push({ cId: ids.hung!, name: 'hung', state: 'start', backupId: 'hung-0', ts: ago(14 * HOUR) });
  rows.push({ cId: ids.hung!, name: 'hung', state: 'end', backupId: 'hung-1', ts: ago(13 * HOUR) });
  // overlap: three backups at once, ending out of order, the newest still running; a backup_id used twice.
  const o = (state: 'start' | 'end', backupId: string, h: number, errMsg = ''): Insert => ({ cId: ids.overlap!, name: 'overlap', state, backupId, ts: ago(h * HOUR), errMsg });
  rows.push(o('start', 'dup', 50), o('end', 'dup', 49), o('start', 'dup', 48));
  rows.push(o('start', 'A', 5), o('start', 'B', 4), o('start', 'C', 3), o('end', 'B', 2), o('end', 'A', 1, 'ERROR: late failure'));
  // stopped and scratch: rows that must not matter.
  rows.push(...backup(ids.stopped!, 'stopped', 'stopped-0', ago(HOUR), MIN, 'ERROR: x'));
  rows.push(...backup(ids.scratch!, 'scratch', 'scratch-0', ago(90 * DAY), MIN));
  await insertRows(rows);
});

afterAll(async () => {
  await db?.end();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('latestBackupRows', () => {
  it('reads ts as UTC instants whatever the server session and process time zones', async () => {
    for (const zone of ['Asia/Kolkata', 'America/Los_Angeles', 'UTC']) {
      vi.stubEnv('TZ', zone);
      const containers = await activeContainers(db);
      const rows = await latestBackupRows(db, containers);
      const start = rows.find((r) => r.backupId === 'shop-0' && r.state === 'start');
      expect(start?.ts.toISOString()).toBe('2024-10-26T23:30:00.000Z');
      const crmStart = rows.find((r) => r.backupId === 'crm-user');
      expect(crmStart?.ts.toISOString()).toBe(ago(30 * MIN).toISOString());
    }
    // The trap it avoids: pg reads a plain timestamp column in the process's local time.
    vi.stubEnv('TZ', 'Asia/Kolkata');
    const naive = await db.query<{ ts: Date }>(`SELECT ts FROM backups WHERE backup_id = 'shop-0' AND state = 'start'`);
    expect(naive.rows[0]!.ts.toISOString()).toBe('2024-10-26T18:00:00.000Z');
  });

  it('returns only the newest attempt and the newest success of each active container, not the history', async () => {
    const containers = await activeContainers(db);
    const rows = await latestBackupRows(db, containers);
    const byName = (n: string) => [...new Set(rows.filter((r) => r.name === n).map((r) => r.backupId))].sort();
    expect(byName('shop')).toEqual(['shop-0']);
    expect(byName('crm')).toEqual(['crm-user', 'crm-weekly']);
    expect(byName('legacy')).toEqual(['legacy-new']);
    expect(byName('broken')).toEqual(['broken-0', 'broken-1']);
    expect(byName('hung')).toEqual(['hung-0', 'hung-1']);
    expect(byName('overlap')).toEqual(['B', 'C']);
    expect(byName('stopped')).toEqual([]);
    expect(byName('scratch')).toEqual(['scratch-0']);
    // The deleted wiki's rows carry its own c_id; today's wiki has only old rows with c_id NULL, matched by name.
    expect(byName('wiki')).toEqual(['wiki-old']);
    expect(rows).toHaveLength(21); // of the log's 92
    expect(await allRows()).toHaveLength(92);
    expect(rows.map((r) => r.id)).toEqual([...rows].sort((a, b) => a.ts.getTime() - b.ts.getTime() || a.id - b.id).map((r) => r.id));
    expect(await latestBackupRows(db, [])).toEqual([]);
  });

  it('the audit decides the same on these rows as on the whole log', async () => {
    const containers = await activeContainers(db);
    for (const now of [NOW, new Date(NOW.getTime() + 3 * DAY), new Date(NOW.getTime() + 10 * HOUR)]) {
      const subset = evaluateAudit(containers, await latestBackupRows(db, containers), { now });
      const whole = evaluateAudit(containers, await allRows(), { now });
      expect(subset).toEqual(whole);
    }
  });

  it('statuses against the real admin DB', async () => {
    const containers = await activeContainers(db);
    const results = evaluateAudit(containers, await latestBackupRows(db, containers), { now: NOW });
    expect(Object.fromEntries(results.map((r) => [`${r.name}#${r.id}`, r.status]))).toEqual({
      [`broken#${ids.broken}`]: 'Failed',
      [`crm#${ids.crm}`]: 'Running',
      [`hung#${ids.hung}`]: 'Started but did not finish',
      [`legacy#${ids.legacy}`]: 'Good',
      [`never#${ids.never}`]: 'No backups',
      [`overlap#${ids.overlap}`]: 'Running',
      [`scratch#${ids.scratch}`]: 'No policy',
      [`shop#${ids.shop}`]: 'Good',
      [`wiki#${ids.wiki}`]: 'Out of Policy',
    });
    const shop = results.find((r) => r.name === 'shop')!;
    expect(shop.lastSuccess).toMatchObject({ backupId: 'shop-0', durationMs: 95 * MIN });
    expect(results.find((r) => r.name === 'wiki')?.lastSuccess?.backupId).toBe('wiki-old');
    expect(results.find((r) => r.name === 'overlap')).toMatchObject({ lastSuccess: { backupId: 'B' }, lastAttempt: { backupId: 'C' } });
  });
});

describe('runAudit', () => {
  const config = () => loadConfig({ SQLALCHEMY_ADMIN_URI: url.replace('postgresql://', 'postgresql+psycopg2://'), AWS_BUCKET_NAME: 's3://audit-bucket' });

  it('prints the table and exits 1 when a container fails the audit; an unfinished backup nobody holds is Abandoned', async () => {
    // crm's backup is being made by a live process, hung's process is alive but past the run time (they hold their
    // claims); overlap's process is gone.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    for (const id of [ids.crm, ids.hung]) await holder.query('SELECT pg_advisory_lock($1, $2)', [lockKey('mydb-backup:container'), id]);
    try {
      const lines: string[] = [];
      const code = await runAudit(config(), { json: false, now: NOW }, (l) => lines.push(l), makeMasker([]));
      expect(code).toBe(1);
      expect(lines[0]).toMatch(/^CONTAINER\s+ENGINE\s+FREQUENCY\s+STATUS/);
      expect(lines.find((l) => l.startsWith('broken'))).toMatch(/Failed.*ERROR: connection refused$/);
      expect(lines.find((l) => l.startsWith('crm'))).toMatch(/Running/);
      expect(lines.find((l) => l.startsWith('overlap'))).toMatch(/Abandoned .*no process is backing it up: its process died/);
      expect(lines.find((l) => l.startsWith('hung'))).toMatch(/Started but did not finish/);
      expect(lines.at(-1)).toBe(
        '9 containers: 2 Good, 1 Out of Policy, 1 Running, 1 Abandoned, 1 Started but did not finish, 1 Failed, 1 No backups, 1 No policy. 5 fail the audit.',
      );
    } finally {
      await holder.end();
    }
  });

  it('--json and --prom: one JSON document, an atomically written textfile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-db-'));
    try {
      const prom = join(dir, 'mydb_backup.prom');
      const lines: string[] = [];
      const code = await runAudit(config(), { json: true, prom, now: NOW }, (l) => lines.push(l), makeMasker([]));
      expect(code).toBe(1);
      expect(lines).toHaveLength(1);
      const doc = JSON.parse(lines[0]!);
      expect(doc.ok).toBe(false);
      expect(doc.maxRunSeconds).toBe(12 * 3600); // BACKUP_TIMEOUT's default
      expect(doc.containers.find((c: { name: string }) => c.name === 'legacy')).toMatchObject({ status: 'Good', frequency: 'Daily' });
      const text = await readFile(prom, 'utf8');
      expect(text).toContain(`mydb_backup_status{container="shop",status="Good"} 1`);
      expect(text).toContain(`mydb_backup_failed{container="broken",engine="Postgres",frequency="Daily"} 1`);
      expect(text).toContain(`mydb_backup_audit_timestamp_seconds ${NOW.getTime() / 1000}`);
      expect(await readdir(dir)).toEqual(['mydb_backup.prom']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 0 when every container with a policy is Good or Running', async () => {
    const lines: string[] = [];
    // Only the ones that pass: a fresh admin DB with two containers.
    const okUrl = await createAdminDb(rig.admin, adminDbName('audit_ok'), [
      { name: 'a', engine: 'Postgres', port: 32010 },
      { name: 'b', engine: 'Postgres', port: 32011, freq: 'None' },
    ]);
    await withPgClient(okUrl, (c) =>
      c.query(
        `INSERT INTO backups (c_id, name, state, backup_id, backup_type, err_msg, ts)
         SELECT id, 'a', s, 'x', 'Daily', '', (now() AT TIME ZONE 'utc') - interval '3 hours' + (CASE s WHEN 'end' THEN interval '1 minute' ELSE interval '0' END)
           FROM containers, unnest(ARRAY['start', 'end']) AS s WHERE name = 'a'`,
      ),
    );
    const cfg = loadConfig({ SQLALCHEMY_ADMIN_URI: okUrl, AWS_BUCKET_NAME: 's3://audit-bucket' });
    expect(await runAudit(cfg, { json: false }, (l) => lines.push(l), makeMasker([]))).toBe(0);
    expect(lines.at(-1)).toBe('2 containers: 1 Good, 1 No policy. Audit passed.');
  });
});
