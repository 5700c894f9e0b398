/**
 * Issue 16: "is this what the container held yesterday, give or take?", against real servers. One container on a
 * PostgreSQL server this file starts itself, backed up night after night (MYDB_TEST_CLOCK names each night): a first
 * backup, steady nights, then most rows of a table deleted between two nightly runs, then a table dropped, then a
 * quiet night. The mail, `audit` (table, --json, --prom), `acknowledge` and action_log are read as an operator would.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminDbName, createAdminDb } from './helpers/admin-db.js';
import { getRig } from './helpers/rig.js';
import { expectNoSecrets, runCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { createBucket, getObjectBuffer, listKeys, s3Client, uniqueBucketName } from './rig/s3.js';
import { seedPostgresContainer } from './rig/seed.js';
import { startSmtp, type SinkMessage, type SmtpSink } from './rig/smtp.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);

let server: PgServer; // the watched container's server: its tables are changed between nights
let sink: SmtpSink;
let adminUrl: string;
let bucket: string;
let env: Record<string, string>;
let promDir: string;

beforeAll(async () => {
  const dir = await scratchDir(rig.baseDir, 'watch');
  server = await startPostgres({ baseDir: dir, name: 'pg-watched', adminPassword: RIG_PASSWORDS.pg });
  await seedPostgresContainer(server, { databases: ['shop'], rows: 1000 }); // customers 1,000, orders 3,000
  await server.query('shop', 'CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 400) i');
  sink = await startSmtp();
  const dbName = adminDbName('watch');
  adminUrl = await createAdminDb(rig.admin, dbName, [{ name: 'watched', engine: 'Postgres', port: server.port }]);
  bucket = await createBucket(s3, uniqueBucketName('watch'));
  env = toolEnv(rig, { adminDb: dbName, bucket, smtp: sink, extra: { TZ: 'UTC' } });
  promDir = await mkdtemp(join(tmpdir(), 'watch-prom-'));
}, 120_000);

afterAll(async () => {
  await sink?.stop();
  await server?.stop();
  if (promDir) await rm(promDir, { recursive: true, force: true });
});

/** The nightly run of night n (its backups named 2026-12-0n 02:00:05 UTC); resolves with the run and its mail. */
async function night(n: number): Promise<{ run: CliResult; mail: SinkMessage }> {
  sink.clear();
  const run = await runCli([], { ...env, MYDB_TEST_CLOCK: `2026-12-${String(n).padStart(2, '0')}T02:00:05.000Z` });
  expect(run.exitCode, run.stdout + run.stderr).toBe(0);
  const [mail] = await sink.waitForMessages(1);
  for (const [where, text] of [['mail', `${mail!.subject}\n${mail!.text}\n${mail!.html}`], ['log', run.stdout + run.stderr]] as const) expectNoSecrets(where, text);
  return { run, mail: mail! };
}

/** Orders keep coming in: the container grows a little every day. */
const moreOrders = () => server.query('shop', "INSERT INTO orders (customer_id, amount, placed_at, status) SELECT 1 + i, 10, now(), 'new' FROM generate_series(1, 60) i");

const auditJson = async () => {
  const run = await runCli(['audit', '--json'], env);
  const doc = JSON.parse(run.stdout.trim()) as { counts: Record<string, number>; containers: { name: string; status: string; ok: boolean; detail: string; suspicious?: { changes: string } }[] };
  return { run, doc, watched: doc.containers.find((c) => c.name === 'watched')! };
};

const actionLog = () =>
  withPgClient(adminUrl, async (c) => (await c.query<{ c_id: number; name: string; action: string; description: string }>('SELECT c_id, name, action, description FROM action_log ORDER BY id')).rows);

/** The trend line of a container in the text mail. */
const trendLine = (mail: SinkMessage, name: string) => {
  const text = mail.text.slice(mail.text.indexOf('SIZE OVER THE LAST 14 GOOD BACKUPS'));
  return text.split('\n').find((l) => l.startsWith(`  ${name} `)) ?? '';
};

/** node_exporter textfile → `name{labels}` → value. */
function promSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

describe('night after night: what a container holds, against what it held', () => {
  it('a first backup is not flagged: the mail says OK and shows its one-point trend, the audit says Good', async () => {
    const { mail } = await night(1);
    expect(mail.subject).toMatch(/^\[mydb-backup\] OK: 2 backups/);
    expect(mail.text).not.toContain('CHANGES SINCE THE LAST BACKUP');
    expect(trendLine(mail, 'watched')).toMatch(/^ {2}watched +[▁-█] +\d+\.\d KiB {2}first backup {2}\(first backup: nothing to compare with\)$/);
    const { run, watched } = await auditJson();
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(watched.status).toBe('Good');
    expect(await actionLog()).toEqual([]);
  }, 120_000);

  it('steady nights build the history; nothing is flagged', async () => {
    let mail: SinkMessage | undefined;
    for (const n of [2, 3, 4]) {
      await moreOrders();
      ({ mail } = await night(n));
      expect(mail.subject, mail.text).toMatch(/^\[mydb-backup\] OK: 2 backups/);
    }
    expect(trendLine(mail!, 'watched')).toMatch(/^ {2}watched +[▁-█]{4} +\d+\.\d KiB {2}[+±]/);
    expect(mail!.html).toMatch(/<td width="6" height="\d+" bgcolor="#1f5fa8"/);
    expect((await auditJson()).watched.status).toBe('Good');
  }, 240_000);

  let flaggedMail: SinkMessage;
  it('most rows of a table deleted between two nightly runs: a good backup, a WARNING mail naming the change', async () => {
    const before = (await server.query<{ n: string }>('shop', 'SELECT count(*) AS n FROM orders'))[0]!.n;
    await server.query('shop', 'DELETE FROM orders WHERE id % 20 <> 0');
    const after = (await server.query<{ n: string }>('shop', 'SELECT count(*) AS n FROM orders'))[0]!.n;
    const { run, mail } = await night(5);
    flaggedMail = mail;
    expect(run.exitCode).toBe(0); // a faithful copy: the run succeeded
    expect(mail.subject).toMatch(/^\[mydb-backup\] WARNING: 2 backups OK, 1 with suspicious changes \(mydb-backup nightly on /);
    const section = mail.text.slice(mail.text.indexOf('CHANGES SINCE THE LAST BACKUP'), mail.text.indexOf('ALL BACKUPS'));
    const fmt = (n: string) => Number(n).toLocaleString('en-US');
    expect(section).toContain(`  watched (backup 2026-12-05_02:00:05):\n    - table shop.public.orders: ${fmt(before)} → ${fmt(after)} rows (−95%)`);
    expect(section).toMatch(/Once checked: backup-all acknowledge watched --id 1/);
    expect(trendLine(mail, 'watched')).toMatch(/^ {2}watched +[▁-█]{5} +\d+\.\d KiB {2}−\d+% \(−[\d.]+ KiB\) {2}CHANGED$/);
    expect(mail.html).toContain('<h3>Changes since the last backup</h3>');
    expect(mail.html).toMatch(/<td width="6" height="\d+" bgcolor="#d0342c"/);
    expect(mail.html).not.toMatch(/<script|<img|<svg/i);
    const flags = await actionLog();
    expect(flags).toEqual([
      expect.objectContaining({ c_id: 1, name: 'watched', action: 'suspicious', description: expect.stringMatching(/^backup 2026-12-05_02:00:05 \(s3:\/\/.*\): 1 change since the last backup: table shop\.public\.orders: /) }),
    ]);
  }, 120_000);

  it('the audit shows it Suspicious (table, --json, exit 1) and Prometheus says so, with size, duration and rows', async () => {
    const table = await runCli(['audit'], env);
    expect(table.exitCode).toBe(1);
    expect(table.stdout).toMatch(/^watched\s+Postgres\s+Daily\s+Suspicious\s+.*but what it holds changed: 1 change since the last backup: table shop\.public\.orders: .*once checked: backup-all acknowledge watched --id 1$/m);

    const { watched, doc } = await auditJson();
    expect(watched).toMatchObject({ status: 'Suspicious', ok: false, suspicious: { changes: expect.stringContaining('table shop.public.orders') } });
    expect(doc.counts.Suspicious).toBe(1);

    const prom = join(promDir, 'mydb_backup.prom');
    const run = await runCli(['audit', '--prom', prom], env);
    expect(run.exitCode).toBe(1);
    const samples = promSamples(await readFile(prom, 'utf8'));
    const labels = '{container="watched",engine="Postgres",frequency="Daily"}';
    expect(samples.get('mydb_backup_status{container="watched",status="Suspicious"}')).toBe(1);
    expect(samples.get('mydb_backup_status{container="watched",status="Good"}')).toBe(0);
    expect(samples.get(`mydb_backup_suspicious${labels}`)).toBe(1);
    // The figures of the newest backup are its manifest's.
    const manifestKey = (await listKeys(s3, bucket, 'mydb/watched.1/')).filter((k) => k.endsWith('/manifest.json')).sort().at(-1)!;
    const manifest = JSON.parse((await getObjectBuffer(s3, bucket, manifestKey)).toString('utf8')) as { objects: { bytes: number; rows?: Record<string, Record<string, number>> }[] };
    expect(samples.get(`mydb_backup_last_size_bytes${labels}`)).toBe(manifest.objects.reduce((n, o) => n + o.bytes, 0));
    const rows = (await server.query<{ n: string }>('shop', 'SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM notes) AS n'))[0]!.n;
    expect(samples.get(`mydb_backup_last_rows${labels}`)).toBe(Number(rows));
    expect(samples.get(`mydb_backup_last_duration_seconds${labels}`)).toBeGreaterThan(0);
  }, 120_000);

  it('an operator acknowledges it: an action_log row, and the audit says Good again', async () => {
    const ack = await runCli(['acknowledge', 'watched', '--note', 'old orders archived on purpose'], env);
    expect(ack.exitCode, ack.stdout + ack.stderr).toBe(0);
    expect(ack.stdout).toContain("Acknowledged backup 2026-12-05_02:00:05 of 'watched' (id 1): 1 change since the last backup: table shop.public.orders");
    expect((await actionLog()).at(-1)).toMatchObject({
      action: 'acknowledge',
      c_id: 1,
      description: expect.stringMatching(/^backup 2026-12-05_02:00:05 acknowledged by \S+@\S+: old orders archived on purpose$/),
    });
    const { run, watched } = await auditJson();
    expect(run.exitCode).toBe(0);
    expect(watched.status).toBe('Good');
    const again = await runCli(['acknowledge', 'watched'], env);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing to acknowledge: the newest good backup of 'watched' (id 1), 2026-12-05_02:00:05, is not flagged.");
    expect((await runCli(['acknowledge', 'nobody'], env)).stderr).toContain("backup-all: no active container named 'nobody'");
  }, 120_000);

  it('a dropped table is flagged the next night', async () => {
    await server.query('shop', 'DROP TABLE notes');
    const { mail } = await night(6);
    expect(mail.subject).toMatch(/^\[mydb-backup\] WARNING: 2 backups OK, 1 with suspicious changes/);
    expect(mail.text).toContain('    - table shop.public.notes is gone (it had 400 rows)');
    const { watched } = await auditJson();
    expect(watched.status).toBe('Suspicious');
    expect(watched.detail).toContain('table shop.public.notes is gone (it had 400 rows)');
  }, 120_000);

  it('a later backup that is not flagged clears the Suspicious status by itself', async () => {
    const { mail } = await night(7);
    expect(mail.subject).toMatch(/^\[mydb-backup\] OK: 2 backups/);
    expect(trendLine(mail, 'watched')).toMatch(/^ {2}watched +[▁-█]{7} /);
    const { run, watched } = await auditJson();
    expect(run.exitCode).toBe(0);
    expect(watched.status).toBe('Good');
    expect((await actionLog()).map((r) => r.action)).toEqual(['suspicious', 'acknowledge', 'suspicious']);
    expect(flaggedMail).toBeDefined();
  }, 120_000);

  it("a container's own thresholds (Info.labels backup_watch_*) win over the global ones", async () => {
    await withPgClient(adminUrl, (c) =>
      c.query(`UPDATE containers SET data = jsonb_set(data, '{Info,labels}', data->'Info'->'labels' || '{"backup_watch_rows_drop": "0.99", "backup_watch_size_drop": 0.9}') WHERE id = 1`),
    );
    await server.query('shop', 'DELETE FROM customers WHERE id % 10 <> 0 AND id NOT IN (SELECT customer_id FROM orders)');
    const { mail } = await night(8);
    expect(mail.subject, mail.text).toMatch(/^\[mydb-backup\] OK: 2 backups/);
    expect((await auditJson()).watched.status).toBe('Good');
  }, 120_000);

  it('earlier backups that cannot be read are a warning in the mail; the backup and the run stand', async () => {
    // The previous backup's manifest, garbled.
    const manifestKey = (await listKeys(s3, bucket, 'mydb/watched.1/')).filter((k) => k.endsWith('/manifest.json')).sort().at(-1)!;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: 'not json' }));
    const { run, mail } = await night(9);
    expect(run.exitCode).toBe(0);
    expect(mail.subject).toMatch(/^\[mydb-backup\] WARNING: 2 backups OK, 1 not compared with earlier backups \(/);
    expect(mail.text).toMatch(/NOT COMPARED WITH EARLIER BACKUPS \(the backups stand\)\n {2}watched: could not compare with the earlier backups: Error: the manifest s3:\/\/.*manifest\.json is not JSON/);
    expect(mail.text).toMatch(/^ {2}OK +watched /m);
    expect((await auditJson()).watched.status).toBe('Good');
  }, 120_000);
});
