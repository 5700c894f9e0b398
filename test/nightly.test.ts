/**
 * Issue 2, end to end: the nightly run against real servers. PostgreSQL containers are dumped into moto with SSE,
 * restored into fresh databases and compared; the backups rows, the summary mail and the logs are checked.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { getRig } from './helpers/rig.js';
import { adminDbName, backupsRows, containerSecret, createAdminDb, type BackupsRow, type SeedContainer } from './helpers/admin-db.js';
import { binWith } from './helpers/bin-dir.js';
import { expectNoSecrets, runCli, toolEnv, TOOL_SECRETS, type CliResult } from './helpers/run-cli.js';
import { applyGlobals, restorePgDump } from './helpers/restore.js';
import { createBucket, getObjectBuffer, headObject, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { GLOBALS_COMPLETE } from '../src/engines/postgres.js';
import { directProgram } from '../src/pipeline/pg-wrapper.js';
import { findOnPath } from '../src/util/program-path.js';
import { startSmtp, type SmtpSink, type SinkMessage } from './rig/smtp.js';
import { freePort } from './rig/ports.js';
import { RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { tableFingerprint } from './rig/seed.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { join } from 'node:path';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
const WEEKDAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const today = new Date().getDay();
const notToday = (today + 3) % 7;

let sink: SmtpSink;
/**
 * Restores and test restores go to a server of this file's own: other files back up pgA and pgB (listing their
 * databases) at the same time, so a database created or dropped there would fail their dumps.
 */
let restoreServer: PgServer;
beforeAll(async () => {
  [sink, restoreServer] = await Promise.all([
    startSmtp(),
    startPostgres({ baseDir: await scratchDir(rig.baseDir, 'nightly-restores'), name: 'restores', adminPassword: RIG_PASSWORDS.pg }),
  ]);
});
afterAll(async () => {
  await Promise.allSettled([sink?.stop(), restoreServer?.stop()]);
});

async function scenario(hint: string, containers: SeedContainer[]) {
  const dbName = adminDbName(hint);
  const adminUrl = await createAdminDb(rig.admin, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName(hint));
  return { adminUrl, dbName, bucket };
}

describe('the nightly run', () => {
  let run: CliResult;
  let rows: BackupsRow[];
  let keys: string[];
  let mail: SinkMessage;
  let bucket: string;
  let adminDbUrl: string;

  beforeAll(async () => {
    const nowhere = await freePort();
    const s = await scenario('nightly', [
      { name: 'alpha', engine: 'Postgres', port: rig.pgA.port, freq: 'Daily' },
      { name: 'bravo', engine: 'Postgres', port: String(rig.pgB.port), freq: 'weekly', freqKey: 'BACKUP_FREQ' },
      { name: 'charlie', engine: 'Postgres', port: rig.pgA.port, freq: 'None', freqKey: 'labels' },
      { name: 'delta', engine: 'Postgres', port: rig.pgB.port, freq: 'Daily', state: 'exited' },
      { name: 'echo', engine: 'Postgres', port: nowhere, freq: 'Daily' },
      { name: 'foxtrot', engine: 'Postgres', port: rig.pgB.port, freq: null },
    ]);
    bucket = s.bucket;
    adminDbUrl = s.adminUrl;
    sink.clear();
    // Today is the weekly day and there is no separate --weekly run: Weekly containers are due tonight too.
    run = await runCli([], toolEnv(rig, { adminDb: s.dbName, bucket, smtp: sink, extra: { BACKUP_WEEKLY_DAY: WEEKDAY_NAMES[today]! } }));
    rows = await backupsRows(s.adminUrl);
    keys = await listKeys(s3, bucket, 'mydb/');
    mail = (await sink.waitForMessages(1, 10_000))[0]!;
  });

  it('exits 1 because one backup failed, and says so in the log', () => {
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(1);
    const finished = run.logs.find((l) => l.msg === 'run finished');
    expect(finished).toMatchObject({ exitCode: 1, failed: 1, backups: 5 });
  });

  it('backs up the due active containers, and only those', () => {
    // Each container's folder is its name and its id in the admin DB.
    const segments = new Set(keys.map((k) => k.split('/')[1]));
    expect([...segments].sort()).toEqual(['_admin-db', 'alpha.1', 'bravo.2', 'foxtrot.6']);
    const alpha = keys.filter((k) => k.startsWith('mydb/alpha.1/')).map((k) => k.split('/').slice(2).join('/').replace(/^[^/]+\//, ''));
    // Each backup's manifest.json comes last (identity, sizes, SHA-256s, row counts).
    // PostgreSQL databases: pg_dump -Fc -Z0 through zstd (BACKUP_COMPRESS_POSTGRES, default zstd).
    expect(alpha.sort()).toEqual(['blog.dump.zst', 'globals.sql', 'manifest.json', 'shop.dump.zst']);
    expect(keys.filter((k) => k.startsWith('mydb/bravo.2/')).map((k) => k.split('/').pop()).sort()).toEqual([
      'globals.sql',
      'inventory.dump.zst',
      'manifest.json',
    ]);
  });

  it('stores every object with server-side encryption and leaves no multipart upload open', async () => {
    for (const key of keys) {
      const head = await headObject(s3, bucket, key);
      expect(head.ServerSideEncryption, key).toBe('AES256');
      expect(head.ContentLength, key).toBeGreaterThan(0);
    }
    expect(await listMultipartUploads(s3, bucket)).toEqual([]);
  });

  it('writes objects that restore into fresh databases with the same rows (zstd -dc | pg_restore, as by hand)', async () => {
    const key = (object: string) => keys.find((k) => k.startsWith(`mydb/${object.split('/')[0]}.`) && k.endsWith(`/${object.split('/')[1]}`))!;
    // Roles from the globals first, then each database under its own name.
    await applyGlobals(s3, bucket, key('alpha/globals.sql'), restoreServer);
    await applyGlobals(s3, bucket, key('bravo/globals.sql'), restoreServer);
    for (const [object, source, db] of [
      ['alpha/shop.dump.zst', rig.pgA, 'shop'],
      ['alpha/blog.dump.zst', rig.pgA, 'blog'],
      ['bravo/inventory.dump.zst', rig.pgB, 'inventory'],
    ] as const) {
      await restorePgDump(s3, bucket, key(object), restoreServer, db);
      const before = await tableFingerprint(source, db);
      const after = await tableFingerprint(restoreServer, db);
      expect(before.length).toBeGreaterThan(0);
      expect(after).toEqual(before);
    }
  });

  it('writes a start and an end row per backup, with the same backup_id, url, masked command and error', () => {
    const byName = (name: string) => rows.filter((r) => r.name === name);
    for (const name of ['_admin-db', 'alpha', 'bravo', 'foxtrot', 'echo']) {
      const [start, end] = byName(name);
      expect(byName(name)).toHaveLength(2);
      expect(start).toMatchObject({ state: 'start', err_msg: '' });
      expect(end).toMatchObject({ state: 'end', backup_id: start!.backup_id, url: start!.url, command: start!.command });
      expect(start!.backup_id).toMatch(/^\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}$/);
      if (name !== '_admin-db') expect(start!.c_id).toBeTypeOf('number');
      // ts is naive UTC: within a minute of now in UTC.
      expect(Math.abs(start!.ts.getTime() - new Date().getTime() - new Date().getTimezoneOffset() * 60_000)).toBeLessThan(5 * 60_000);
    }
    const [alphaEnd] = byName('alpha').filter((r) => r.state === 'end');
    expect(alphaEnd).toMatchObject({ backup_type: 'Daily', err_msg: '' });
    expect(alphaEnd!.url).toMatch(new RegExp(`^s3://${bucket}/mydb/alpha\\.1/\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]{6}/$`));
    expect(alphaEnd!.command).toContain('pg_dump -Fc');
    expect(alphaEnd!.command).toContain('PGPASSWORD=***');
    expect(byName('bravo')[1]).toMatchObject({ backup_type: 'Weekly', err_msg: '' });
    const echoEnd = byName('echo')[1]!;
    expect(echoEnd.err_msg).toMatch(/^ERROR: /);
    expect(echoEnd.err_msg).toMatch(/^ERROR: listing the databases on 127\.0\.0\.1:\d+: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect(rows.filter((r) => ['charlie', 'delta'].includes(r.name))).toEqual([]);
  });

  it("backs up the admin DB itself as 'Admin', and that dump restores with all four tables and their rows", async () => {
    const adminRows = rows.filter((r) => r.name === '_admin-db');
    expect(adminRows.map((r) => `${r.state}:${r.backup_type}:${r.err_msg}`)).toEqual(['start:Admin:', 'end:Admin:']);
    expect(adminRows[0]!.c_id).toBeNull();
    const adminKeys = keys.filter((k) => k.startsWith('mydb/_admin-db/'));
    const key = adminKeys.find((k) => k.endsWith('.dump'))!;
    expect(key).toMatch(new RegExp(`^mydb/_admin-db/\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]{6}/${adminDbUrl.split('/').pop()}\\.dump$`));
    const folder = key.slice(0, key.lastIndexOf('/') + 1);
    expect(adminKeys.sort()).toEqual([key, `${folder}globals.sql`, `${folder}manifest.json`]);
    expect(adminRows[1]!.url).toBe(`s3://${bucket}/${folder}`);
    // Its server's roles, for a restore onto a new server: without their passwords (its account need not be a superuser).
    const globals = (await getObjectBuffer(s3, bucket, `${folder}globals.sql`)).toString('utf8');
    expect(globals).toMatch(/^CREATE ROLE /m);
    expect(globals).not.toMatch(/PASSWORD/);
    expect(globals).toContain(GLOBALS_COMPLETE);
    const restored = 'restored_admin';
    await restorePgDump(s3, bucket, key, restoreServer, restored);
    const counts = async (url: string) =>
      withPgClient(url, async (c) =>
        (await c.query(`SELECT (SELECT count(*) FROM containers)::int AS containers, (SELECT count(*) FROM container_state)::int AS states,
                               (SELECT count(*) FROM action_log)::int AS actions, (SELECT count(*) FROM backups)::int AS backups`)).rows[0],
      );
    const after = await counts(restoreServer.url(restored));
    // The dump is taken while the run writes its rows: it holds the containers and the rows written before it.
    expect(after).toMatchObject({ containers: 6, states: 6, actions: 0 });
    expect(after!.backups).toBeGreaterThanOrEqual(1);
  });

  it('leaves no object for the failed container', () => {
    expect(keys.filter((k) => k.startsWith('mydb/echo.'))).toEqual([]);
  });

  it('mails one summary: subject with the failure count, failures first, then every backup with size and URL', () => {
    expect(sink.messages).toHaveLength(1);
    expect(mail.to.sort()).toEqual(['dba@example.test', 'oncall@example.test']);
    expect(mail.subject).toContain('FAILED: 1 of 5 backups failed');
    const text = mail.text;
    expect(text.indexOf('FAILED')).toBeLessThan(text.indexOf('ALL BACKUPS'));
    expect(text).toMatch(/FAILED\n\s+echo \(Daily, [\d-]+_[\d:]+\): ERROR: /);
    for (const name of ['_admin-db', 'alpha', 'bravo', 'foxtrot']) {
      expect(text).toMatch(new RegExp(`OK\\s+${name}\\s+\\w+\\s+[\\d.]+ (KiB|MiB|B)\\s+.*s3://${bucket}/mydb/${name}(\\.\\d+)?/`));
    }
    expect(mail.html).toContain('<table');
    expect(mail.html).toContain('<b>FAILED</b></td><td>echo</td>');
  });

  it('logs start, end, bytes and MiB/s per backup as JSON lines', () => {
    const done = run.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('backup done'));
    expect(done.map((l) => l.container).sort()).toEqual(['_admin-db', 'alpha', 'bravo', 'foxtrot']);
    for (const l of done) {
      expect(l.bytes).toBeGreaterThan(0);
      expect(l.mibps).toBeTypeOf('number');
    }
    expect(run.logs.filter((l) => l.msg === 'backup started')).toHaveLength(4);
    expect(run.logs.find((l) => l.msg === 'backup failed')).toMatchObject({ container: 'echo', level: 50 });
  });

  it('`audit` reads what the run wrote: Good for the backed-up ones, Failed for echo, exit 1', async () => {
    const audit = await runCli(['audit', '--json'], toolEnv(rig, { adminDb: adminDbUrl.split('/').pop()!, bucket }));
    expect(audit.exitCode).toBe(1);
    const doc = JSON.parse(audit.stdout) as { containers: { name: string; status: string }[] };
    const status = Object.fromEntries(doc.containers.map((c) => [c.name, c.status]));
    expect(status).toEqual({ alpha: 'Good', bravo: 'Good', charlie: 'No policy', echo: 'Failed', foxtrot: 'Good' });
  });

  it('never prints, records or mails a password', () => {
    const secrets = [...TOOL_SECRETS, ...['alpha', 'bravo', 'echo', 'foxtrot'].map(containerSecret)];
    expectNoSecrets('stdout', run.stdout, secrets);
    expectNoSecrets('stderr', run.stderr, secrets);
    expectNoSecrets('backups rows', JSON.stringify(rows), secrets);
    expectNoSecrets('mail', mail.raw, secrets);
    // The check itself works: the SMTP login used the password, so it was in reach.
    expect(mail.raw).not.toBe('');
  });
});

describe('--weekly and the weekly day', () => {
  it('the Saturday --weekly run backs up only Weekly containers, and the nightly run leaves them alone when told', async () => {
    const s = await scenario('weekly', [
      { name: 'daily1', engine: 'Postgres', port: rig.pgB.port, freq: 'Daily' },
      { name: 'weekly1', engine: 'Postgres', port: rig.pgB.port, freq: 'Weekly' },
    ]);
    const env = toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, extra: { BACKUP_WEEKLY_DAY: WEEKDAY_NAMES[today]!, BACKUP_WEEKLY_SEPARATE_RUN: 'true' } });
    const weekly = await runCli(['--weekly'], env);
    expect(weekly.exitCode).toBe(0);
    const nightly = await runCli([], env);
    expect(nightly.exitCode).toBe(0);
    const rows = await backupsRows(s.adminUrl);
    const described = rows.map((r) => `${r.name}:${r.state}:${r.backup_type}`);
    // The --weekly run came first; the nightly run's two backups ran side by side.
    expect(described.slice(0, 2)).toEqual(['weekly1:start:Weekly', 'weekly1:end:Weekly']);
    expect(described.slice(2).sort()).toEqual(['_admin-db:end:Admin', '_admin-db:start:Admin', 'daily1:end:Daily', 'daily1:start:Daily']);
  });

  it('a nightly run on another weekday skips Weekly containers', async () => {
    const s = await scenario('notweekly', [{ name: 'weekly2', engine: 'Postgres', port: rig.pgB.port, freq: 'Weekly' }]);
    const run = await runCli([], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, extra: { BACKUP_WEEKLY_DAY: WEEKDAY_NAMES[notToday]! } }));
    expect(run.exitCode).toBe(0);
    expect((await backupsRows(s.adminUrl)).map((r) => r.name)).toEqual(['_admin-db', '_admin-db']);
    expect((await listKeys(s3, s.bucket, '')).filter((k) => !k.startsWith('mydb/_admin-db/'))).toEqual([]);
  });
});

describe('named, on-demand and dry runs', () => {
  it('--type User NAME backs up that container at once, due or not, and --json prints one line', async () => {
    const s = await scenario('user', [{ name: 'gamma', engine: 'Postgres', port: rig.pgB.port, freq: 'None' }]);
    const run = await runCli(['--type', 'User', '--json', 'gamma'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket }));
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(result).toMatchObject({ ok: true, backups: [{ name: 'gamma', backupType: 'User', ok: true }] });
    expect(result.backups[0].objects.map((o: { key: string }) => o.key.split('/').pop()).sort()).toEqual(['globals.sql', 'inventory.dump.zst']);
    expect((await backupsRows(s.adminUrl)).map((r) => r.backup_type)).toEqual(['User', 'User']);
  });

  it('an unknown container name is a usage error that touches nothing', async () => {
    const s = await scenario('unknown', [{ name: 'gamma', engine: 'Postgres', port: rig.pgB.port }]);
    const run = await runCli(['gamma', 'nope'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket }));
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("no active container named 'nope'");
    expect(await backupsRows(s.adminUrl)).toEqual([]);
  });

  it('--dry-run prints the plan, masked commands and keys, and writes nothing', async () => {
    const s = await scenario('dry', [
      { name: 'alpha', engine: 'Postgres', port: rig.pgA.port },
      { name: 'odd', engine: 'Oracle', port: rig.pgA.port },
    ]);
    const run = await runCli(['--dry-run'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket }));
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('Dry run: 3 backups would run');
    expect(run.stdout).toMatch(new RegExp(`s3://${s.bucket}/mydb/_admin-db/[^/]+/${s.dbName}.dump \\(SSE AES256\\)`));
    expect(run.stdout).toMatch(new RegExp(`s3://${s.bucket}/mydb/alpha\\.1/[^/]+/shop\\.dump\\.zst \\(SSE AES256, zstd\\)`));
    expect(run.stdout).toContain('pg_dump -Fc -Z0 --no-password');
    expect(run.stdout).toContain('PGPASSWORD=***');
    expect(run.stdout).toContain("would fail: container odd: unknown dbengine 'Oracle'");
    expectNoSecrets('dry-run output', run.stdout);
    // --compress sets this run's compression for PostgreSQL too; the admin DB keeps pg_dump's own.
    const gzip = await runCli(['--dry-run', '--compress', 'gzip'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket }));
    expect(gzip.stdout).toMatch(new RegExp(`s3://${s.bucket}/mydb/alpha\\.1/[^/]+/shop\\.dump\\.gz \\(SSE AES256, gzip\\)`));
    expect(gzip.stdout).toMatch(new RegExp(`s3://${s.bucket}/mydb/_admin-db/[^/]+/${s.dbName}.dump \\(SSE AES256\\)`));
    expect(await backupsRows(s.adminUrl)).toEqual([]);
    expect(await listKeys(s3, s.bucket, '')).toEqual([]);
  });
});

describe('check and SSE-KMS', () => {
  it('`check` reaches everything and names what cannot be backed up; a dead SMTP server is a FAIL', async () => {
    const s = await scenario('check', [
      { name: 'alpha', engine: 'Postgres', port: rig.pgA.port },
      { name: 'odd', engine: 'Oracle', port: rig.pgA.port },
    ]);
    const verify = { BACKUP_VERIFY_POSTGRES_URL: rig.admin.url('postgres'), BACKUP_VERIFY_MARIADB_URL: `mariadb://root@127.0.0.1:${rig.maria.port}` };
    const good = await runCli(['check'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, smtp: sink, extra: verify }));
    expect(good.exitCode, good.stdout).toBe(0);
    expect(good.stdout).toMatch(/OK {4}verification server postgresql:\/\/pgdba@127\.0\.0\.1:\d+\/postgres reached/);
    expect(good.stdout).toMatch(/OK {4}verification server mariadb:\/\/root@127\.0\.0\.1:\d+\/ reached/);
    expect(good.stdout).toContain('OK    admin database reached: 2 active containers');
    expect(good.stdout).toContain("WARN  container odd cannot be backed up: unknown dbengine 'Oracle'");
    expect(good.stdout).toContain(`OK    bucket ${s.bucket} writable with AES256 encryption`);
    expect(good.stdout).toMatch(/OK {4}SMTP 127\.0\.0\.1:\d+ accepts mail/);
    expect(good.stdout).toMatch(/OK {4}pg_dump found at \//);
    // Behind Debian's pg_wrapper, check names the program the tool starts in its place.
    const env = toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket });
    const direct = directProgram('pg_dump', { PGHOST: '' }, env.PATH ?? '');
    if (direct) expect(good.stdout).toContain(`pg_dump found at ${findOnPath('pg_dump', env.PATH)} (started as ${direct.file}, the program pg_wrapper runs)`);
    expect(await listKeys(s3, s.bucket, '')).toEqual([]);
    const bad = await runCli(['check'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, smtp: sink, extra: { SMTP_PORT: String(await freePort()) } }));
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(/FAIL {2}SMTP 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expectNoSecrets('check output', good.stdout + bad.stdout);
  });

  it('`check` fails when zstd, the PostgreSQL compression, is not on PATH; with pg_dump\'s own compression it needs none', async () => {
    const s = await scenario('checkpath', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
    // A PATH with PostgreSQL's client tools and mkfifo (every dump is read through a FIFO), nothing else.
    const bin = await binWith(await scratchDir(rig.baseDir, 'no-zstd-bin'), ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore', 'mkfifo']);
    const env = toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, smtp: sink, extra: { PATH: bin } });
    const missing = await runCli(['check'], env);
    expect(missing.exitCode, missing.stdout).toBe(1);
    expect(missing.stdout).toContain('FAIL  zstd not found on PATH: Postgres backups are compressed with zstd (BACKUP_COMPRESS_POSTGRES); install it or set gzip or pgdump');
    expect(missing.stdout).toContain('1 problem(s) found');
    const pgdump = await runCli(['check'], { ...env, BACKUP_COMPRESS_POSTGRES: 'pgdump' });
    expect(pgdump.exitCode, pgdump.stdout).toBe(0);
    expect(pgdump.stdout).not.toMatch(/zstd (not )?found/);
    expect(pgdump.stdout).toContain('all checks passed');
  });

  it('`check` fails, and a backup fails saying why, when no FIFO can be made: TMPDIR missing, or mkfifo not on PATH', async () => {
    const s = await scenario('checkfifo', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
    const env = toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, smtp: sink });
    const good = await runCli(['check'], env);
    expect(good.stdout).toMatch(/OK {4}FIFOs can be made in \S+ \(TMPDIR\)/);
    const gone = join(rig.baseDir, 'no-such-tmp');
    const noTmp = await runCli(['check'], { ...env, TMPDIR: gone });
    expect(noTmp.exitCode, noTmp.stdout).toBe(1);
    expect(noTmp.stdout).toContain(`FAIL  cannot make a private directory in ${gone} (TMPDIR) for the FIFOs that dumps and restores stream through: ENOENT`);
    const backup = await runCli(['alpha'], { ...env, TMPDIR: gone });
    expect(backup.exitCode).toBe(1);
    const end = (await backupsRows(s.adminUrl)).find((r) => r.name === 'alpha' && r.state === 'end');
    expect(end?.err_msg).toMatch(new RegExp(`^ERROR: cannot make a private directory in ${gone} \\(TMPDIR\\) for the FIFOs that dumps and restores stream through: ENOENT`));
    // PostgreSQL's tools and zstd on PATH, not mkfifo.
    const bin = await binWith(await scratchDir(rig.baseDir, 'no-mkfifo-bin'), ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore', 'zstd']);
    const noMkfifo = await runCli(['check'], { ...env, PATH: bin });
    expect(noMkfifo.exitCode, noMkfifo.stdout).toBe(1);
    expect(noMkfifo.stdout).toMatch(/FAIL {2}cannot make FIFOs in a private directory under \S+: mkfifo \(coreutils\) is not on PATH: no backup can run, nor a restore of a \.zst object with its manifest/);
    expect(noMkfifo.stdout).toContain('1 problem(s) found');
  });

  it('BACKUP_SSE=aws:kms stores objects under the configured KMS key and verifies it', async () => {
    const s = await scenario('kms', [{ name: 'gamma', engine: 'Postgres', port: rig.pgB.port }]);
    const keyId = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const run = await runCli(['gamma'], toolEnv(rig, { adminDb: s.dbName, bucket: s.bucket, extra: { BACKUP_SSE: 'aws:kms', BACKUP_SSE_KMS_KEY_ID: keyId } }));
    expect(run.exitCode, run.stdout).toBe(0);
    const keys = await listKeys(s3, s.bucket, 'mydb/gamma.1/');
    expect(keys.length).toBeGreaterThan(1);
    for (const key of keys) {
      const head = await headObject(s3, s.bucket, key);
      expect(head.ServerSideEncryption).toBe('aws:kms');
      expect(head.SSEKMSKeyId).toContain('11111111-2222-3333-4444-555555555555');
    }
  });
});

describe('the dead-man switch and the nightly test restores', () => {
  it('pings /start and success, and test-restores a sample of the night into a scratch database', async () => {
    const { createServer } = await import('node:http');
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('OK'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const s = await scenario('verify', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
      sink.clear();
      const run = await runCli([], toolEnv(rig, {
        adminDb: s.dbName,
        bucket: s.bucket,
        smtp: sink,
        extra: {
          BACKUP_PING_URL: `http://127.0.0.1:${port}/ping/abc-123`,
          BACKUP_VERIFY_SAMPLE: '1',
          BACKUP_VERIFY_POSTGRES_URL: restoreServer.url('postgres'),
        },
      }));
      expect(run.exitCode, run.stdout).toBe(0);
      expect(hits).toEqual(['/ping/abc-123/start', '/ping/abc-123']);
      const [mail] = await sink.waitForMessages(1);
      expect(mail!.text).toMatch(/Test restores \(BACKUP_VERIFY_SAMPLE=1\): 1 of 1 OK/);
      const actions = await withPgClient(s.adminUrl, async (c) => (await c.query("SELECT action FROM action_log")).rows);
      expect(actions).toEqual([{ action: 'verify' }]);
      const scratch = await restoreServer.query('postgres', "SELECT datname FROM pg_database WHERE datname LIKE 'mydbverify%'");
      expect(scratch).toEqual([]);
      expectNoSecrets('log', run.stdout);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
