/**
 * Issue 11: a backup belongs to one container and one moment. Real servers: names that used to clean to one folder,
 * a tenant called `_admin-db`, a row whose Info.Name is another container's name, databases whose names differ only
 * in an accent, two runs of one container at once, the hour DST repeats, and a container someone else is backing up.
 * The clock is fixed where the test needs backups to start in the same instant (MYDB_TEST_CLOCK).
 */
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockKey } from '../src/admin-db/locks.js';
import { loadConfig } from '../src/config.js';
import { adminDbName, backupsRows, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { fakeBin } from './helpers/faults.js';
import { getRig } from './helpers/rig.js';
import { collect, runCli, startCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { createBucket, getObjectBuffer, listKeys, s3Client, uniqueBucketName } from './rig/s3.js';
import { startSmtp, type SmtpSink } from './rig/smtp.js';
import { waitUntil } from './rig/wait.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
const CLOCK = '2026-12-01T02:00:07.000Z';
const LONG = 'L'.repeat(200);

let dir: string;
let unicodeServer: PgServer; // a container with databases cafe, café, 'Ünïcode db'
let dst: PgServer; // where restores go
let sink: SmtpSink;

beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'identity');
  [unicodeServer, dst] = await Promise.all([
    startPostgres({ baseDir: dir, name: 'pg-unicode', adminPassword: RIG_PASSWORDS.pg }),
    startPostgres({ baseDir: dir, name: 'pg-dst', adminPassword: RIG_PASSWORDS.pg }),
  ]);
  await createDatabases(unicodeServer, ['cafe', 'café', 'Ünïcode db'], ['cafe', 'café']);
  await withPgClient(unicodeServer.url('Ünïcode db'), (c) => c.query('CREATE TABLE "tâble" (id int); INSERT INTO "tâble" SELECT generate_series(1, 1000)'));
  sink = await startSmtp();
}, 120_000);

afterAll(async () => {
  await sink?.stop();
  await Promise.allSettled([unicodeServer?.stop(), dst?.stop()]);
});

async function scenario(hint: string, containers: SeedContainer[], extra: Record<string, string> = {}) {
  const dbName = adminDbName(hint);
  const adminUrl = await createAdminDb(rig.admin, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName(hint));
  const env = toolEnv(rig, { adminDb: dbName, bucket, smtp: sink, extra: { BACKUP_VERIFY_POSTGRES_URL: dst.url('postgres'), ...extra } });
  return { adminUrl, bucket, env };
}

const listJson = async (env: Record<string, string>, args: string[]) => {
  const run = await runCli(['list', ...args, '--json'], env);
  expect(run.exitCode, run.stdout + run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as { id: number | null; backups: { backupId: string; folderId: string; status: string; objects: { name: string; key: string }[] }[] };
};
const objectsOf = (doc: Awaited<ReturnType<typeof listJson>>) => doc.backups.map((b) => b.objects.map((o) => o.name).sort());
const PG_A = ['blog.dump.zst', 'globals.sql', 'shop.dump.zst'];
const PG_B = ['globals.sql', 'inventory.dump.zst'];
/** Creates `dbs` on `server`; in each of `named`, a table holding the name of the database it was made in (whoami). */
async function createDatabases(server: PgServer, dbs: string[], named: string[] = dbs): Promise<void> {
  await withPgClient(server.url('postgres'), async (c) => {
    for (const db of dbs) await c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`);
  });
  for (const db of named) {
    await withPgClient(server.url(db), (c) => c.query('CREATE TABLE whoami (db text); INSERT INTO whoami SELECT current_database()'));
  }
}
const whoami = async (server: PgServer, db: string) => (await server.query<{ db: string }>(db, 'SELECT db FROM whoami'))[0]?.db;

describe('names that cleaned to one folder, all backed up in the same instant', () => {
  let env: Record<string, string>;
  let adminUrl: string;
  let bucket: string;
  let run: CliResult;

  beforeAll(async () => {
    ({ env, adminUrl, bucket } = await scenario('names', [
      { name: 'a b', engine: 'Postgres', port: rig.pgA.port }, // id 1
      { name: 'a_b', engine: 'Postgres', port: rig.pgB.port }, // 2
      { name: 'база', engine: 'Postgres', port: rig.pgA.port }, // 3
      { name: '数据', engine: 'Postgres', port: rig.pgB.port }, // 4
      { name: 'row-name-x', engine: 'Postgres', port: rig.pgB.port, extraInfo: { Name: 'alpha-pg' } }, // 5
      { name: 'alpha-pg', engine: 'Postgres', port: rig.pgA.port }, // 6
      { name: '_admin-db', engine: 'Postgres', port: rig.pgB.port }, // 7: a tenant
      { name: `${LONG}-one`, engine: 'Postgres', port: rig.pgA.port }, // 8
      { name: `${LONG}-two`, engine: 'Postgres', port: rig.pgB.port }, // 9
      { name: 'unicode-box', engine: 'Postgres', port: unicodeServer.port }, // 10
    ], { BACKUP_CONCURRENCY: '11', MYDB_TEST_CLOCK: CLOCK }));
    run = await runCli([], env);
  }, 300_000);

  it('backs every one up into its own folder, each with a manifest naming it', async () => {
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const ends = (await backupsRows(adminUrl)).filter((r) => r.state === 'end');
    expect(ends).toHaveLength(11);
    expect(ends.every((e) => e.err_msg === '')).toBe(true);
    // The same instant for all: one local backup_id, eleven folders.
    expect(new Set(ends.map((e) => e.backup_id))).toEqual(new Set(['2026-12-01_02:00:07']));
    expect(new Set(ends.map((e) => e.url)).size).toBe(11);
    const manifests = (await listKeys(s3, bucket, 'mydb/')).filter((k) => k.endsWith('/manifest.json'));
    expect(manifests).toHaveLength(11);
    const owners = [];
    for (const key of manifests) owners.push(JSON.parse((await getObjectBuffer(s3, bucket, key)).toString('utf8')).owner);
    expect(owners.filter((o) => o.kind === 'container').map((o) => o.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(owners.filter((o) => o.kind === 'admin-db')).toHaveLength(1);
  });

  it('each holds its own server\'s data: nothing overwrote anything', async () => {
    expect(objectsOf(await listJson(env, ['a b']))).toEqual([PG_A]);
    expect(objectsOf(await listJson(env, ['a_b']))).toEqual([PG_B]);
    expect(objectsOf(await listJson(env, ['база']))).toEqual([PG_A]);
    expect(objectsOf(await listJson(env, ['数据']))).toEqual([PG_B]);
    expect(objectsOf(await listJson(env, [`${LONG}-one`]))).toEqual([PG_A]);
    expect(objectsOf(await listJson(env, [`${LONG}-two`]))).toEqual([PG_B]);
    expect(objectsOf(await listJson(env, ['alpha-pg', '--id', '6']))).toEqual([PG_A]);
    expect(objectsOf(await listJson(env, ['alpha-pg', '--id', '5']))).toEqual([PG_B]);
    expect(objectsOf(await listJson(env, ['_admin-db']))).toEqual([PG_B]);
    expect(objectsOf(await listJson(env, ['--admin-db']))).toEqual([[`${adminUrl.split('/').pop()}.dump`, 'globals.sql']]);
  });

  it('a name that stands for two containers is refused, listing them; --id picks one, and restores that one\'s data', async () => {
    const refused = await runCli(['restore', 'alpha-pg', '--to', dst.url('')], env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("'alpha-pg' names 2 containers: id 6 ('alpha-pg', running); id 5 ('alpha-pg', row name 'row-name-x', running); say which with --id");
    const restored = await runCli(['restore', 'alpha-pg', '--id', '5', '--database', 'inventory', '--to', `postgresql://127.0.0.1:${dst.port}/inv_of_5`], env);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    const [row] = await dst.query<{ n: number }>('inv_of_5', "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    expect(row!.n).toBeGreaterThan(0);
    const wrongId = await runCli(['restore', 'alpha-pg', '--id', '1', '--to', dst.url('')], env);
    expect(wrongId.exitCode).toBe(2);
    expect(wrongId.stderr).toContain("no container with id 1 is called 'alpha-pg' (id 1 is 'a b')");
  });

  it('the admin DB\'s own backup and a tenant called _admin-db never meet: each has its own command path', async () => {
    const admin = await runCli(['restore', '--admin-db', '--to', `postgresql://127.0.0.1:${dst.port}/admin_copy`], env);
    expect(admin.exitCode, admin.stdout + admin.stderr).toBe(0);
    expect((await dst.query<{ n: number }>('admin_copy', 'SELECT count(*)::int AS n FROM containers'))[0]!.n).toBe(10);
    const tenant = await runCli(['restore', '_admin-db', '--database', 'inventory', '--to', `postgresql://127.0.0.1:${dst.port}/tenant_copy`], env);
    expect(tenant.exitCode, tenant.stdout + tenant.stderr).toBe(0);
    expect(await dst.query('tenant_copy', "SELECT 1 FROM pg_tables WHERE tablename = 'containers'")).toEqual([]);
  });

  it('databases whose names differ only in an accent are two objects, and come back by their real names', async () => {
    const doc = await listJson(env, ['unicode-box']);
    expect(objectsOf(doc)).toEqual([['=C3=9Cn=C3=AFcode=20db.dump.zst', 'caf=C3=A9.dump.zst', 'cafe.dump.zst', 'globals.sql']]);
    for (const db of ['cafe', 'café']) {
      const copy = `copy_${db === 'cafe' ? 'plain' : 'accent'}`;
      const one = await runCli(['restore', 'unicode-box', '--database', db, '--to', `postgresql://127.0.0.1:${dst.port}/${copy}`], env);
      expect(one.exitCode, one.stdout + one.stderr).toBe(0);
      expect(await whoami(dst, copy)).toBe(db);
    }
    const whole = await runCli(['restore', 'unicode-box', '--database', 'Ünïcode db', '--to', `postgresql://127.0.0.1:${dst.port}/`], env);
    expect(whole.exitCode, whole.stdout + whole.stderr).toBe(0);
    expect((await dst.query<{ n: number }>('Ünïcode db', 'SELECT count(*)::int AS n FROM "tâble"'))[0]!.n).toBe(1000);
    const verify = await runCli(['verify', 'unicode-box'], env);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('rows per table as the backup counted them');
    expect(verify.stdout).toContain('Ünïcode db: 1 tables, 1,000 rows');
  });
});

describe('one container, two backups in one instant', () => {
  it('two runs started together: the second waits for the first, then writes its own folder; both stay whole', async () => {
    const bin = await fakeBin(`${dir}/slow-bin`, { pg_dump: 'sleep 2\nexec /usr/bin/pg_dump "$@"' });
    const { env, adminUrl } = await scenario('twice', [{ name: 'twice', engine: 'Postgres', port: rig.pgB.port }], { MYDB_TEST_CLOCK: CLOCK });
    const slow = { ...env, PATH: `${bin}:${env.PATH}` };
    const [first, second] = (await Promise.all([startCli(['twice', '--json'], slow), startCli(['twice', '--json'], slow)])).map(collect);
    expect([first!.exitCode, second!.exitCode], first!.stdout + second!.stdout).toEqual([0, 0]);
    const ids = (await backupsRows(adminUrl)).map((r) => `${r.state} ${r.backup_id}`);
    expect(ids).toEqual(['start 2026-12-01_02:00:07', 'end 2026-12-01_02:00:07', 'start 2026-12-01_02:00:07.2', 'end 2026-12-01_02:00:07.2']);
    const doc = await listJson(env, ['twice']);
    expect(doc.backups.map((b) => b.status)).toEqual(['ok', 'ok']);
    expect(new Set(doc.backups.map((b) => b.folderId)).size).toBe(2);
    for (const b of doc.backups) {
      const run = await runCli(['verify', 'twice', '--backup-id', b.folderId], env);
      expect(run.exitCode, run.stdout).toBe(0);
    }
  });
});

describe('the hour DST repeats', () => {
  it('backups of 01:50 PDT and 01:10 PST, and of both 01:30s, keep their folders; latest is the last by UTC', async () => {
    const { env } = await scenario('dst', [{ name: 'dst', engine: 'Postgres', port: rig.pgB.port }], { TZ: 'America/Los_Angeles' });
    const at = ['2026-11-01T08:30:00.000Z', '2026-11-01T08:50:00.000Z', '2026-11-01T09:10:00.000Z', '2026-11-01T09:30:00.000Z'];
    for (const clock of at) {
      const run = await runCli(['dst'], { ...env, MYDB_TEST_CLOCK: clock });
      expect(run.exitCode, run.stdout).toBe(0);
    }
    const doc = await listJson(env, ['dst']);
    // Newest first by UTC: the local ids alone would put 01:50 (PDT) before 01:30 (PST).
    expect(doc.backups.map((b) => b.backupId)).toEqual(['2026-11-01_01:30:00.2', '2026-11-01_01:10:00', '2026-11-01_01:50:00', '2026-11-01_01:30:00']);
    expect(doc.backups.map((b) => b.folderId.slice(0, 15))).toEqual(['20261101T093000', '20261101T091000', '20261101T085000', '20261101T083000']);
    const restore = await runCli(['restore', 'dst', '--database', 'inventory', '--to', `postgresql://127.0.0.1:${dst.port}/dst_latest`], env);
    expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).toContain('Backup 2026-11-01_01:30:00.2 (folder 20261101T093000.000Z-');
    const ambiguous = await runCli(['restore', 'dst', '--backup-id', '2026-11-01_01:30:00', '--database', 'inventory', '--to', `postgresql://127.0.0.1:${dst.port}/dst_x`], env);
    expect(ambiguous.exitCode, ambiguous.stdout + ambiguous.stderr).toBe(0);
    expect(ambiguous.stdout).toContain('(folder 20261101T083000.000Z-');
  });
});

describe('a container another process is backing up', () => {
  /** Holds a container's claim as another backup process would, from a connection of the test's own. */
  async function holdClaim(adminUrl: string, containerId: number): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: adminUrl, application_name: 'mydb-backup User host=elsewhere pid=4242' });
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1, $2)', [lockKey('mydb-backup:container'), containerId]);
    return client;
  }

  it('an on-demand run waits for it (BACKUP_CLAIM_WAIT), then fails with ok:false naming the holder, writing no rows', async () => {
    const { env, adminUrl } = await scenario('busy', [{ name: 'busy', engine: 'Postgres', port: rig.pgB.port }], { BACKUP_CLAIM_WAIT: '2s' });
    const holder = await holdClaim(adminUrl, 1);
    try {
      const run = await runCli(['--type', 'User', '--json', 'busy'], env);
      expect(run.exitCode).toBe(1);
      const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
      expect(result).toMatchObject({ ok: false, backups: [], notBackedUp: [{ name: 'busy', reason: expect.stringContaining('mydb-backup User host=elsewhere pid=4242 was still backing it up after 2.0 s') }] });
      expect(await backupsRows(adminUrl)).toEqual([]);
      const named = await runCli(['busy'], env);
      expect(named.exitCode).toBe(1);
      // Released while a run waits: that run goes on and backs it up.
      const waiting = startCli(['--type', 'User', '--json', 'busy'], { ...env, BACKUP_CLAIM_WAIT: '60s' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await holder.end();
      const after = collect(await waiting);
      expect(after.exitCode, after.stdout).toBe(0);
      expect(JSON.parse(after.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true, backups: [{ name: 'busy', ok: true }] });
    } finally {
      await holder.end().catch(() => {});
    }
  });

  it('the nightly run waits for an on-demand backup and counts it only if it succeeded; else backs the container up itself', async () => {
    for (const outcome of ['succeeds', 'fails'] as const) {
      // The on-demand dump goes on only once the nightly run has found the container held (the file `go`).
      const go = `${dir}/ondemand-${outcome}.go`;
      const wait = `while [ ! -e ${go} ]; do sleep 0.2; done`;
      const bin = await fakeBin(`${dir}/ondemand-${outcome}`, {
        pg_dump: outcome === 'succeeds' ? `${wait}\nexec /usr/bin/pg_dump "$@"` : `${wait}\necho "pg_dump: error: connection lost" >&2\nexit 1`,
      });
      const { env, adminUrl } = await scenario(`ondemand-${outcome}`, [{ name: 'shared', engine: 'Postgres', port: rig.pgB.port }]);
      const onDemand = startCli(['--type', 'User', 'shared'], { ...env, PATH: `${bin}:${env.PATH}` });
      await waitUntil(async () => (await backupsRows(adminUrl)).some((r) => r.name === 'shared' && r.state === 'start'), 30_000, 'the on-demand backup to start');
      sink.clear();
      const running = startCli([], env);
      let seen = '';
      running.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
      await waitUntil(async () => seen.includes('coming back to it at the end'), 60_000, 'the nightly run to find the container held');
      await writeFile(go, '');
      const nightly = collect(await running);
      expect(collect(await onDemand).exitCode).toBe(outcome === 'succeeds' ? 0 : 1);
      expect(nightly.exitCode, nightly.stdout).toBe(0);
      const rows = (await backupsRows(adminUrl)).filter((r) => r.name === 'shared').map((r) => `${r.backup_type} ${r.state} ${r.err_msg ? 'ERROR' : 'ok'}`);
      // Both runs mail: the nightly run's is the one that says what it did with the container.
      const mail = (await sink.waitForMessages(2)).find((m) => m.subject.includes('nightly'));
      if (outcome === 'succeeds') {
        expect(rows).toEqual(['User start ok', 'User end ok']);
        expect(mail!.text).toMatch(/Backed up by another run while this one waited: shared \(User backup/);
      } else {
        expect(rows).toEqual(['User start ok', 'User end ERROR', 'Daily start ok', 'Daily end ok']);
        expect(mail!.text).toMatch(/OK\s+shared\s+Daily/);
      }
    }
  });
});

describe('S3 itself refuses an overwrite where the store supports conditional writes', () => {
  it('a small object, a multipart object and a manifest written over an existing key fail with 412 and leave it as it was, unless it holds the same bytes', async () => {
    const { uploadStream } = await import('../src/storage/multipart.js');
    const { putManifest, newManifest } = await import('../src/storage/manifest.js');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = s3;
    const bucket = await createBucket(s3, uniqueBucketName('conditional'));
    const original = Buffer.from('the first backup wrote this');
    for (const key of ['a/small', 'a/multipart', 'a/manifest.json']) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original, ServerSideEncryption: 'AES256' }));
    }
    const upload = (key: string, bytes: number) =>
      uploadStream((async function* () { yield Buffer.alloc(bytes, 7); })(), {
        client, bucket, key, sse: { mode: 'AES256' }, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, maxParts: 100, noOverwrite: true,
      });
    await expect(upload('a/small', 1000)).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(upload('a/multipart', 12 * 1024 * 1024)).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const manifest = newManifest({
      name: 'x', backupId: 'x', folder: 'x', owner: { kind: 'admin-db', database: 'x', host: 'h', port: 1 }, backupType: 'Admin', engine: 'Postgres',
      startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), objects: [],
    });
    const settings = { ...loadConfig(toolEnv(rig, { adminDb: 'x', bucket })).s3, conditionalWrites: true };
    await expect(putManifest(client, settings, 'a/manifest.json', manifest)).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    for (const key of ['a/small', 'a/multipart', 'a/manifest.json']) expect((await getObjectBuffer(s3, bucket, key)).equals(original), key).toBe(true);
    // The same bytes there already (what a write whose answer was lost leaves, when the SDK sends it again): S3
    // refuses the write, and it counts as done.
    const sameBody = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
    for (const [key, body] of [['b/small', Buffer.alloc(1000, 7)], ['b/multipart', Buffer.alloc(12 * 1024 * 1024, 7)], ['b/manifest.json', sameBody]] as const) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ServerSideEncryption: 'AES256' }));
    }
    await expect(upload('b/small', 1000)).resolves.toMatchObject({ bytes: 1000 });
    await expect(upload('b/multipart', 12 * 1024 * 1024)).resolves.toMatchObject({ bytes: 12 * 1024 * 1024 });
    await expect(putManifest(client, settings, 'b/manifest.json', manifest)).resolves.toBe(sameBody.length);
    // A new key goes through.
    await upload('a/fresh', 1000);
    expect((await getObjectBuffer(s3, bucket, 'a/fresh')).length).toBe(1000);
  });
});

describe('database names holding a tab or a line break', () => {
  // The databases were once listed by psql as tab-separated lines, which cut such names apart: a backup of "tab	x"
  // asked pg_dump for "tab" and failed. Now they are listed in-process, by their exact names.
  const ODD = ['tab\there', 'line\nbreak'];
  let odd: PgServer;
  beforeAll(async () => {
    odd = await startPostgres({ baseDir: dir, name: 'pg-odd', adminPassword: RIG_PASSWORDS.pg });
    await createDatabases(odd, ODD);
  }, 60_000);
  afterAll(async () => {
    await odd?.stop();
  });

  it('are backed up one object each, and restore by their names', async () => {
    const { env } = await scenario('oddnames', [{ name: 'odd-names', engine: 'Postgres', port: odd.port }]);
    const run = await runCli(['odd-names', '--json'], env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(objectsOf(await listJson(env, ['odd-names']))).toEqual([['globals.sql', 'line=0Abreak.dump.zst', 'tab=09here.dump.zst']]);
    for (const db of ODD) {
      const copy = `odd_${db.includes('\t') ? 'tab' : 'line'}`;
      const restore = await runCli(['restore', 'odd-names', '--database', db, '--to', `postgresql://127.0.0.1:${dst.port}/${copy}`], env);
      expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0);
      expect(await whoami(dst, copy)).toBe(db);
    }
  });
});
