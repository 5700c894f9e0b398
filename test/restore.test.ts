/**
 * Issue 5: backups come back. Real servers: a private PostgreSQL "container" (several schemas, large objects,
 * unicode, a 100k-row table, a second database with roles and grants) is backed up with the CLI into moto, then
 * `restore` streams it into another private PostgreSQL server and the data is compared; corrupt and truncated objects
 * fail loudly and leave the target as it was; `list` and `verify` (and the nightly sample) are checked; MariaDB goes
 * round trip from the rig's server into a private one. Private servers, so no other test file sees their databases
 * come and go.
 */
import { DeleteObjectsCommand, PutBucketLifecycleConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { fakeMongoSettingsPath } from './fixtures/fake-mongo.mjs';
import { adminDbName, createAdminDb } from './helpers/admin-db.js';
import { nightlySample } from './helpers/restore.js';
import { getRig } from './helpers/rig.js';
import { expectNoSecrets, runCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { freePort, RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { startMariadb, type MariaServer } from './rig/mariadb.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { createBucket, getObjectBuffer, listKeys, s3Client, uniqueBucketName } from './rig/s3.js';
import { MARIA_SAMPLE_DBS, mariaFingerprint, mariaObjects, pgObjects, seedPostgresContainer, SHOP_ROLE, tableFingerprint } from './rig/seed.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
const PG = 'app_main'; // a name with '_': object names are app_main_{db}.dump
const MARIA = 'crm_box';
const MONGO = 'docs_db';
const MONGO_PASSWORD = 'mongo-Secr3t!v'; // toolEnv's BACKUP_MONGODB_PASSWORD

/** A database with what a restore must carry: schemas (one owned by a role), large objects, unicode, 100k rows. */
const MIXED_SQL = `
  CREATE ROLE mixed_owner NOLOGIN;
  CREATE SCHEMA sales AUTHORIZATION mixed_owner;
  CREATE SCHEMA "Lager ü";
  CREATE TABLE public.events (id bigint PRIMARY KEY, kind text NOT NULL, payload jsonb, at timestamptz, note text);
  INSERT INTO public.events
  SELECT i, (ARRAY['click', 'view', 'buy', 'ünïcødé ✓'])[1 + i % 4], jsonb_build_object('i', i, 'tag', 'Ω' || (i % 97)),
         timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', CASE WHEN i % 11 = 0 THEN NULL ELSE repeat('x', i % 50) END
  FROM generate_series(1, 100000) AS i;
  CREATE TABLE sales.orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(12,2));
  ALTER TABLE sales.orders OWNER TO mixed_owner;
  INSERT INTO sales.orders (customer, total) SELECT 'Kunde ' || i || ' 山田', i * 1.5 FROM generate_series(1, 500) AS i;
  CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 300;
  CREATE TABLE "Lager ü"."Bestand Ω" ("Artikel" text PRIMARY KEY, "Menge" int);
  INSERT INTO "Lager ü"."Bestand Ω" VALUES ('Äpfel', 3), ('日本茶', 7), ('emoji 🙂', 1), (E'tab\\there', 0);
  CREATE TABLE public.docs (id int PRIMARY KEY, title text, content oid);
  INSERT INTO public.docs VALUES
    (1, 'small', lo_from_bytea(0, convert_to('hello large object ✓', 'UTF8'))),
    (2, 'big', lo_from_bytea(0, decode(repeat(md5('x'), 20000), 'hex')));`;

async function largeObjects(url: string): Promise<{ oid: string; md5: string }[]> {
  return withPgClient(url, async (c) => (await c.query('SELECT oid::text AS oid, md5(lo_get(oid)) AS md5 FROM pg_largeobject_metadata ORDER BY oid')).rows);
}
async function databases(server: PgServer): Promise<string[]> {
  return (await server.query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).map((r) => r.datname);
}
async function tableCount(server: PgServer, db: string): Promise<number> {
  const [row] = await server.query<{ n: number }>(db, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`);
  return row!.n;
}
async function createDb(server: PgServer, db: string): Promise<void> {
  await withPgClient(server.url('postgres'), (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`));
}

let src: PgServer; // the container being backed up
let dst: PgServer; // restores and verification go here
let mariaTarget: MariaServer;
let adminUrl: string;
let bucket: string;
let env: Record<string, string>;
let backup: CliResult;
let pgBackupId: string;
let pgFolder: string; // mydb/app_main.1/{folder id}/
/** The same container backed up before, as the tool did before zstd (BACKUP_COMPRESS_POSTGRES=pgdump): `{db}.dump`. */
let pgdumpBackup: { backupId: string; folder: string };
let mariaBackupId: string;
let mariaFolder: string;
let mongoPort: number;
let mongoRestoreLog: string;
const outputs: CliResult[] = [];

async function cli(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCli(args, { ...env, ...extra });
  outputs.push(result);
  return result;
}
const actionLog = () =>
  withPgClient(adminUrl, async (c) => (await c.query<{ c_id: number | null; name: string; action: string; description: string; ts: Date }>('SELECT * FROM action_log ORDER BY id')).rows);
const dstUrl = (db = '') => `postgresql://127.0.0.1:${dst.port}/${db}`;
const mariaUrl = (db = '') => `mariadb://127.0.0.1:${mariaTarget.port}/${db}`;

beforeAll(async () => {
  const dir = await scratchDir(rig.baseDir, 'restore');
  [src, dst, mariaTarget] = await Promise.all([
    startPostgres({ baseDir: dir, name: 'pg-src', adminPassword: RIG_PASSWORDS.pg }),
    startPostgres({ baseDir: dir, name: 'pg-dst', adminPassword: RIG_PASSWORDS.pg }),
    startMariadb({ baseDir: dir, name: 'maria-dst', rootPassword: RIG_PASSWORDS.maria }),
  ]);
  await seedPostgresContainer(src, { databases: ['shop'], rows: 300 });
  await withPgClient(src.url('postgres'), (c) => c.query('CREATE DATABASE mixed'));
  await withPgClient(src.url('mixed'), (c) => c.query(MIXED_SQL));

  // MongoDB: the stand-in tools (test/fixtures/bin), configured by a settings file chosen by the port.
  mongoPort = await freePort();
  mongoRestoreLog = join(dir, 'mongorestore.log');
  await mkdir(dirname(fakeMongoSettingsPath(mongoPort)), { recursive: true });
  await writeFile(
    fakeMongoSettingsPath(mongoPort),
    `FAKE_MONGO_PASSWORD=${MONGO_PASSWORD}\nFAKE_MONGODUMP_BYTES=500000\nFAKE_MONGORESTORE_LOG=${mongoRestoreLog}\n`,
  );

  const dbName = adminDbName('restore');
  adminUrl = await createAdminDb(rig.admin, dbName, [
    { name: PG, engine: 'Postgres', port: src.port },
    { name: MARIA, engine: 'MariaDB', port: rig.maria.port },
    { name: 'spare', engine: 'Postgres', port: dst.port, freq: 'None' },
    { name: MONGO, engine: 'MongoDB', port: mongoPort, freq: 'None' },
  ]);
  bucket = await createBucket(s3, uniqueBucketName('restore'));
  env = toolEnv(rig, {
    adminDb: dbName,
    bucket,
    extra: {
      BACKUP_VERIFY_POSTGRES_URL: dst.url('postgres'),
      BACKUP_VERIFY_MARIADB_URL: `mariadb://root@127.0.0.1:${mariaTarget.port}`,
      BACKUP_VERIFY_SAMPLE: '1',
    },
  });
  const old = await cli(['--type', 'Admin', '--json', PG], { BACKUP_COMPRESS_POSTGRES: 'pgdump' });
  pgdumpBackup = JSON.parse(old.stdout.trim().split('\n').pop()!).backups[0];
  backup = await cli(['--type', 'Admin', '--json', PG, MARIA]);
  const summary = JSON.parse(backup.stdout.trim().split('\n').pop()!);
  const made = (name: string) => summary.backups.find((b: { name: string }) => b.name === name);
  [pgBackupId, pgFolder] = [made(PG).backupId, made(PG).folder];
  [mariaBackupId, mariaFolder] = [made(MARIA).backupId, made(MARIA).folder];
}, 120_000);

afterAll(async () => {
  await rm(fakeMongoSettingsPath(mongoPort), { force: true });
  await Promise.allSettled([src?.stop(), dst?.stop(), mariaTarget?.stop()]);
});

describe('PostgreSQL: restore', () => {
  it('backs up the container first (both databases, the globals): pg_dump -Fc -Z0 through zstd, or pg_dump\'s own zlib', async () => {
    expect(backup.exitCode, backup.stdout + backup.stderr).toBe(0);
    expect(pgFolder).toMatch(new RegExp(`^mydb/${PG}\\.1/\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]{6}/$`));
    expect((await listKeys(s3, bucket, pgFolder)).map((k) => k.split('/').pop())).toEqual(['globals.sql', 'manifest.json', 'mixed.dump.zst', 'shop.dump.zst']);
    expect((await listKeys(s3, bucket, pgdumpBackup.folder)).map((k) => k.split('/').pop())).toEqual(['globals.sql', 'manifest.json', 'mixed.dump', 'shop.dump']);
    // What each object is: a zstd frame of an uncompressed custom-format archive, or pg_dump's own (zlib inside).
    const zst = await getObjectBuffer(s3, bucket, `${pgFolder}mixed.dump.zst`);
    expect(zst.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    const plain = await getObjectBuffer(s3, bucket, `${pgdumpBackup.folder}mixed.dump`);
    expect(plain.subarray(0, 5).toString('latin1')).toBe('PGDMP');
  });

  it('writes a manifest last: every object with its size and SHA-256, and the rows per table counted in the dump\'s snapshot', async () => {
    const folder = pgFolder;
    const manifest = JSON.parse((await getObjectBuffer(s3, bucket, `${folder}manifest.json`)).toString('utf8'));
    expect(manifest).toMatchObject({
      format: 'mydb-backup manifest 2',
      name: PG,
      backupId: pgBackupId,
      folder: folder.split('/')[2],
      owner: { kind: 'container', id: 1, name: PG, engine: 'Postgres', host: '127.0.0.1', port: src.port },
      backupType: 'Admin',
      engine: 'Postgres',
    });
    expect(manifest.objects.map((o: { name: string; database?: string }) => [o.name, o.database])).toEqual([
      ['globals.sql', undefined],
      ['mixed.dump.zst', 'mixed'],
      ['shop.dump.zst', 'shop'],
    ]);
    for (const o of manifest.objects as { name: string; bytes: number; sha256: string }[]) {
      const body = await getObjectBuffer(s3, bucket, folder + o.name);
      expect(o.bytes).toBe(body.length);
      expect(o.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    }
    const shop = manifest.objects.find((o: { name: string }) => o.name === 'shop.dump.zst');
    const counted = await withPgClient(src.url('shop'), async (c) => {
      const tables = (await c.query<{ t: string }>(`SELECT format('%I.%I', schemaname, relname) AS t FROM pg_stat_user_tables`)).rows;
      const out: Record<string, number> = {};
      for (const { t } of tables) out[t] = Number((await c.query(`SELECT count(*) AS n FROM ONLY ${t}`)).rows[0].n);
      return out;
    });
    expect(shop.rows).toEqual({ shop: counted });
    expect(Object.values(counted).reduce((a, b) => a + b, 0)).toBe(1200);
    expect(manifest.objects[0].rows).toBeUndefined(); // the globals hold no table
  });

  it('restores every database of the latest backup into another server, identical: rows, schemas, large objects, roles', async () => {
    const run = await cli(['restore', PG, '--to', dstUrl()]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Backup ${pgBackupId} (folder ${pgFolder.split('/')[2]}) of ${PG} (Postgres, 3 objects`);
    expect(run.stdout).toContain("chosen: latest: the newest backup with a successful 'end' row in the backups log");
    expect(run.stdout).toContain(`Restoring into postgresql://pgdba@127.0.0.1:${dst.port}/ (databases mixed, shop)`);
    for (const db of ['mixed', 'shop']) {
      const before = await tableFingerprint(src, db);
      expect(before.length).toBeGreaterThan(0);
      expect(await tableFingerprint(dst, db)).toEqual(before);
      expect(await pgObjects(dst, db)).toEqual(await pgObjects(src, db));
    }
    expect((await tableFingerprint(dst, 'mixed')).find((t) => t.table === 'public.events')?.count).toBe(100_000);
    expect(await largeObjects(dst.url('mixed'))).toEqual(await largeObjects(src.url('mixed')));
    expect(await largeObjects(dst.url('mixed'))).toHaveLength(2);
    // The globals brought the roles, so owners and grants came back too.
    const [owner] = await dst.query('mixed', `SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'sales'`);
    expect(owner!.owner).toBe('mixed_owner');
    expect(await dst.query('shop', `SELECT 1 FROM information_schema.role_table_grants WHERE grantee = $1 AND table_name = 'customers'`, [SHOP_ROLE])).toHaveLength(1);

    const [row] = (await actionLog()).filter((r) => r.action === 'restore');
    expect(row).toMatchObject({ name: PG, c_id: expect.any(Number) });
    expect(row!.description).toMatch(new RegExp(`^restore of backup ${pgBackupId} \\(folder \\S+\\) \\(s3://${bucket}/${pgFolder}\\) into postgresql://pgdba@127\\.0\\.0\\.1:${dst.port}/ \\(databases mixed, shop\\): OK`));
    // ts is naive UTC.
    expect(Math.abs(row!.ts.getTime() - Date.now() - new Date().getTimezoneOffset() * 60_000)).toBeLessThan(5 * 60_000);
  });

  it('restores one database under a new name; refuses it when not empty; replaces it with --force', async () => {
    const first = await cli(['restore', PG, '--backup-id', pgBackupId, '--database', 'mixed', '--to', dstUrl('mixed_copy')]);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain(`chosen: --backup-id ${pgBackupId} (the backups log says it succeeded)`);
    const source = await tableFingerprint(src, 'mixed');
    expect(await tableFingerprint(dst, 'mixed_copy')).toEqual(source);
    expect(await largeObjects(dst.url('mixed_copy'))).toEqual(await largeObjects(src.url('mixed')));

    await dst.query('mixed_copy', `INSERT INTO public.events (id, kind) VALUES (0, 'added after the restore')`);
    const refused = await cli(['restore', PG, '--database', 'mixed', '--to', dstUrl('mixed_copy')]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/refusing to restore into non-empty database mixed_copy \(\d+ tables\) on postgresql:\/\/pgdba@127\.0\.0\.1:\d+\/mixed_copy: pass --force/);
    expect((await tableFingerprint(dst, 'mixed_copy')).find((t) => t.table === 'public.events')?.count).toBe(100_001);

    const forced = await cli(['restore', PG, '--database', 'mixed', '--to', dstUrl('mixed_copy'), '--force']);
    expect(forced.exitCode, forced.stdout + forced.stderr).toBe(0);
    expect(await tableFingerprint(dst, 'mixed_copy')).toEqual(source);
  });

  it('--to-container restores into an active container, and refuses a non-empty database there too', async () => {
    const refused = await cli(['restore', PG, '--database', 'shop', '--to-container', 'spare']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/refusing to restore into non-empty database shop \(2 tables\) on container spare \(127\.0\.0\.1:\d+\)/);
    const forced = await cli(['restore', PG, '--database', 'shop', '--to-container', 'spare', '--force']);
    expect(forced.exitCode, forced.stdout + forced.stderr).toBe(0);
    expect(await tableFingerprint(dst, 'shop')).toEqual(await tableFingerprint(src, 'shop'));
    const unknown = await cli(['restore', PG, '--to-container', 'nobody']);
    expect(unknown.stderr).toContain("--to-container: no active container named 'nobody'");
  });

  it('restores the admin DB from its own backup onto a server without its roles, even with the admin DB unreachable (S3 alone decides)', async () => {
    // A role of the admin DB's server that its tables are granted to (the web application's account, say), which the
    // target server has not: without it, pg_restore fails at its GRANT.
    const webRole = `mydb_web_${process.pid}`;
    await withPgClient(adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${webRole} LOGIN PASSWORD 'web-Secr3t!w'`);
      await c.query(`GRANT SELECT ON containers TO ${webRole}`);
    });
    try {
      const own = await cli(['admin-db']);
      expect(own.exitCode, own.stdout + own.stderr).toBe(0);
      const down = `postgresql://pgdba:x@127.0.0.1:${await freePort()}/gone`;
      const run = await cli(['restore', '--admin-db', '--to', dstUrl('admin_copy')], { SQLALCHEMY_ADMIN_URI: down });
      expect(run.stdout).toContain('admin database unreachable: going on with S3 alone');
      expect(run.stdout).toContain('chosen: latest: the newest complete backup (with a manifest) in S3 (the backups log could not be read)');
      expect(run.stdout).toContain('Restore finished');
      // Restored, but its action_log row could not be written: logged whole, exit 4.
      expect(run.stdout).toContain('action_log row not written');
      expect(run.exitCode).toBe(4);
      const counts = await dst.query('admin_copy', 'SELECT (SELECT count(*) FROM containers)::int AS containers, (SELECT count(*) FROM backups)::int AS backups');
      expect(counts[0]).toMatchObject({ containers: 4 }); // app_main, crm_box, spare, docs_db
      expect(counts[0]!.backups).toBeGreaterThanOrEqual(4);
      // The role came back from the backup's globals, without its password (to set again); its grant with the data.
      const [role] = await dst.query<{ login: boolean; password: string | null }>('postgres', `SELECT rolcanlogin AS login, rolpassword AS password FROM pg_authid WHERE rolname = '${webRole}'`);
      expect(role).toEqual({ login: true, password: null });
      const [grant] = await dst.query<{ ok: boolean }>('admin_copy', `SELECT has_table_privilege('${webRole}', 'public.containers', 'SELECT') AS ok`);
      expect(grant!.ok).toBe(true);
    } finally {
      await withPgClient(adminUrl, async (c) => {
        await c.query(`REVOKE ALL ON containers FROM ${webRole}`);
        await c.query(`DROP ROLE ${webRole}`);
      });
    }
  });

  it('backs the admin DB up with an account that is no superuser: its roles without passwords, which it may read', async () => {
    // pg_dumpall --globals-only reads pg_authid (superusers only: permission denied) unless told to leave the
    // passwords out. The account may read and write the admin DB's tables, and nothing more.
    const account = `mydb_app_${process.pid}`;
    const password = 'app-Secr3t!q';
    await withPgClient(adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${account} LOGIN PASSWORD '${password}'`);
      await c.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${account}`);
      await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${account}`);
    });
    try {
      const url = new URL(adminUrl);
      url.username = account;
      url.password = encodeURIComponent(password);
      const run = await cli(['admin-db', '--json'], { SQLALCHEMY_ADMIN_URI: url.toString() });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const made: { folder: string } = JSON.parse(run.stdout.trim().split('\n').pop()!).backups[0];
      const globals = (await getObjectBuffer(s3, bucket, `${made.folder}globals.sql`)).toString('utf8');
      expect(globals).toContain(`CREATE ROLE ${account};`);
      expect(globals).not.toMatch(/PASSWORD|SCRAM-SHA-256|md5[0-9a-f]{32}/);
    } finally {
      await withPgClient(adminUrl, async (c) => {
        await c.query(`DROP OWNED BY ${account}`);
        await c.query(`DROP ROLE ${account}`);
      });
    }
  });

  it('says what is wrong with the request before touching anything', async () => {
    const several = await cli(['restore', PG, '--to', dstUrl('one_db')]);
    expect(several.exitCode).toBe(2);
    expect(several.stderr).toContain('--to names one database (one_db) but backup');
    expect(several.stderr).toContain('holds 2 (mixed, shop): choose one with --database');
    const unknown = await cli(['restore', PG, '--database', 'nope', '--to', dstUrl('x')]);
    expect(unknown.stderr).toContain(`holds no database 'nope' (it holds: mixed, shop)`);
    const noTarget = await cli(['restore', PG]);
    expect(noTarget.stderr).toContain('say where to restore');
    const wrongEngine = await cli(['restore', PG, '--to', mariaUrl()]);
    expect(wrongEngine.stderr).toContain('is a Postgres backup: it cannot be restored into mariadb://');
    const noBackups = await cli(['restore', 'ghost', '--to', dstUrl()]);
    expect(noBackups.exitCode).toBe(2);
    expect(noBackups.stderr).toContain(`no container named 'ghost' in the admin database, and no backups of that name in s3://${bucket}/mydb/`);
    const noSpare = await cli(['restore', 'spare', '--to', dstUrl()]);
    expect(noSpare.stderr).toContain(`no backups of container 'spare' (id 3) in s3://${bucket}/mydb/spare.3/`);
    const adminName = await cli(['restore', '_admin-db', '--to', dstUrl()]);
    expect(adminName.stderr).toContain("(the admin database's own backups: --admin-db)");
    expect(await databases(dst)).not.toContain('one_db');
  });

  it('list shows the backup: folder, objects with sizes, the log row', async () => {
    const text = await cli(['list', PG]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain(`Backups of ${PG} (id 1, Postgres) in s3://${bucket}/mydb/${PG}.1/, newest first:`);
    expect(text.stdout).toMatch(new RegExp(`${pgBackupId}\\s+Admin\\s+OK\\s+[\\d.]+ (KiB|MiB).*${pgFolder.split('/')[2]}`));
    expect(text.stdout).toMatch(/mixed\.dump\.zst\s+[\d.]+ (KiB|MiB)/);
    expect(text.stdout).toMatch(/mixed\.dump\s+[\d.]+ (KiB|MiB)/); // the older, pg_dump-compressed backup
    // Without the admin DB: S3 alone, each backup by its folder id, in its own column, the log's say unknown.
    const down = `postgresql://pgdba:x@127.0.0.1:${await freePort()}/gone`;
    const s3Only = await cli(['list', PG], { SQLALCHEMY_ADMIN_URI: down });
    expect(s3Only.exitCode, s3Only.stdout + s3Only.stderr).toBe(0);
    expect(s3Only.stdout).toContain('newest first (admin DB unreachable: S3 only):');
    const folderId = pgFolder.split('/')[2]!;
    expect(s3Only.stdout).toMatch(new RegExp(`^${folderId} +- +LOG UNREAD +[\\d.]+ (KiB|MiB) `, 'm'));
    expect(s3Only.stdout).not.toContain('NOT LOGGED');
    const json = await cli(['list', PG, '--json']);
    const doc = JSON.parse(json.stdout.trim());
    expect(doc).toMatchObject({ name: PG, id: 1, engine: 'Postgres', backupsLogRead: true });
    expect(doc.backups[0]).toMatchObject({ backupId: pgBackupId, folderId: pgFolder.split('/')[2], status: 'ok', inS3: true, backupType: 'Admin' });
    expect(doc.backups[0].objects.map((o: { name: string }) => o.name)).toEqual(['globals.sql', 'mixed.dump.zst', 'shop.dump.zst']);
    expect(doc.backups[1]).toMatchObject({ backupId: pgdumpBackup.backupId, status: 'ok' });
    expect(doc.backups[1].objects.map((o: { name: string }) => o.name)).toEqual(['globals.sql', 'mixed.dump', 'shop.dump']);
    expect(doc.backups[0].objects.every((o: { bytes: number }) => o.bytes > 0)).toBe(true);
  });
});

/**
 * A backup folder written by hand: the objects, and a manifest that lists them with their true sizes and digests, so
 * that what fails is the content itself (what pg_restore, zstd or the completion check find), not the manifest.
 */
async function fakeBackup(folder: string, owner: { id: number; name: string; engine: string; port: number }, objects: Record<string, Buffer>): Promise<void> {
  for (const [name, body] of Object.entries(objects)) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: folder + name, Body: body, ServerSideEncryption: 'AES256' }));
  const folderId = folder.split('/').at(-2)!;
  const manifest = {
    format: 'mydb-backup manifest 2', name: owner.name, backupId: folderId, folder: folderId, backupType: 'Admin', engine: owner.engine,
    owner: { kind: 'container', ...owner, host: '127.0.0.1' },
    startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(),
    objects: Object.entries(objects).map(([name, body]) => ({ name, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') })),
  };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}manifest.json`, Body: JSON.stringify(manifest), ServerSideEncryption: 'AES256' }));
}

const FAKE = {
  garbage: '20990101T000000.000Z-000001',
  truncated: '20990102T000000.000Z-000002',
  globalsCut: '20990103T000000.000Z-000003',
  zstTruncated: '20990104T000000.000Z-000004',
  zstCorrupt: '20990105T000000.000Z-000005',
  zstCutForced: '20990106T000000.000Z-000006',
  zstCorruptForced: '20990107T000000.000Z-000007',
};

describe('PostgreSQL: broken objects fail loudly and leave the target as it was', () => {
  const folder = (id: string) => `mydb/${PG}.1/${id}/`;
  const pgOwner = () => ({ id: 1, name: PG, engine: 'Postgres', port: src.port });
  const realObject = (name: string) => getObjectBuffer(s3, bucket, pgFolder + name);
  const pgdumpObject = (name: string) => getObjectBuffer(s3, bucket, pgdumpBackup.folder + name);
  const scratchLeft = async () => (await databases(dst)).filter((d) => d.startsWith('mydbverify_'));

  it('garbage instead of a dump: pg_restore refuses it, the (empty) target database stays empty', async () => {
    await fakeBackup(folder(FAKE.garbage), pgOwner(), { 'globals.sql': await realObject('globals.sql'), 'mixed.dump': Buffer.from('this is not a pg_dump archive\n'.repeat(2000)) });
    await createDb(dst, 'garbage_target');
    const run = await cli(['restore', PG, '--backup-id', FAKE.garbage, '--database', 'mixed', '--to', dstUrl('garbage_target')]);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/Restore FAILED: restoring s3:\/\/[^ ]+\/mixed\.dump: pg_restore exited with code 1: pg_restore: error: input file does not appear to be a valid archive/);
    expect(await tableCount(dst, 'garbage_target')).toBe(0);
    const row = (await actionLog()).at(-1)!;
    expect(row.description).toMatch(new RegExp(`^restore of backup ${FAKE.garbage} .*: FAILED: restoring s3:.*/mixed\\.dump: pg_restore exited with code 1`));
  });

  it('a truncated dump: the single transaction rolls back; a database the restore created is dropped again', async () => {
    const dump = await pgdumpObject('mixed.dump');
    await fakeBackup(folder(FAKE.truncated), pgOwner(), { 'globals.sql': await realObject('globals.sql'), 'mixed.dump': dump.subarray(0, Math.floor(dump.length * 0.6)) });
    await createDb(dst, 'trunc_existing');
    const into = await cli(['restore', PG, '--backup-id', FAKE.truncated, '--database', 'mixed', '--to', dstUrl('trunc_existing')]);
    expect(into.exitCode).toBe(1);
    expect(into.stdout).toMatch(/Restore FAILED: restoring s3:\/\/\S+\/mixed\.dump: pg_restore exited with code 1: pg_restore: error: /);
    expect(await tableCount(dst, 'trunc_existing')).toBe(0);
    expect(await largeObjects(dst.url('trunc_existing'))).toEqual([]);

    const fresh = await cli(['restore', PG, '--backup-id', FAKE.truncated, '--database', 'mixed', '--to', dstUrl('trunc_new')]);
    expect(fresh.exitCode).toBe(1);
    expect(fresh.stdout).toContain('dropped database trunc_new, which this restore had created');
    expect(await databases(dst)).not.toContain('trunc_new');
  });

  it('truncated globals: caught by their missing completion comment before any database is touched', async () => {
    const globals = await realObject('globals.sql');
    await fakeBackup(folder(FAKE.globalsCut), pgOwner(), { 'globals.sql': globals.subarray(0, Math.floor(globals.length / 2)), 'mixed.dump.zst': await realObject('mixed.dump.zst') });
    const run = await cli(['restore', PG, '--backup-id', FAKE.globalsCut, '--database', 'mixed', '--to', dstUrl('globals_cut')]);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/\/globals\.sql is corrupt or truncated: it is truncated: its end lacks '-- PostgreSQL database cluster dump complete'/);
    expect(run.stdout).not.toContain('mixed.dump.zst →');
    expect(await databases(dst)).not.toContain('globals_cut');
  });

  it('a truncated .dump.zst: zstd says so before pg_restore reads the end; the target stays empty, a database the restore created is dropped; verify fails', async () => {
    const body = await realObject('mixed.dump.zst');
    await fakeBackup(folder(FAKE.zstTruncated), pgOwner(), { 'globals.sql': await realObject('globals.sql'), 'mixed.dump.zst': body.subarray(0, Math.floor(body.length * 0.6)) });
    await createDb(dst, 'zst_trunc_existing');
    const into = await cli(['restore', PG, '--backup-id', FAKE.zstTruncated, '--database', 'mixed', '--to', dstUrl('zst_trunc_existing')]);
    expect(into.exitCode).toBe(1);
    expect(into.stdout).toMatch(/Restore FAILED: s3:\/\/\S+\/mixed\.dump\.zst is corrupt or truncated: .*zstd -d exited with code 1/);
    expect(await tableCount(dst, 'zst_trunc_existing')).toBe(0);
    expect(await largeObjects(dst.url('zst_trunc_existing'))).toEqual([]);

    const fresh = await cli(['restore', PG, '--backup-id', FAKE.zstTruncated, '--database', 'mixed', '--to', dstUrl('zst_trunc_new')]);
    expect(fresh.exitCode).toBe(1);
    expect(fresh.stdout).toContain('dropped database zst_trunc_new, which this restore had created');
    expect(await databases(dst)).not.toContain('zst_trunc_new');

    const verify = await cli(['restore', PG, '--verify', '--backup-id', FAKE.zstTruncated]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toMatch(new RegExp(`verify app_main ${FAKE.zstTruncated}: FAILED: s3://\\S+/mixed\\.dump\\.zst is corrupt or truncated: .*zstd -d exited with code 1`));
    expect(await scratchLeft()).toEqual([]);
  });

  it('a corrupt .dump.zst (bytes changed in the middle): restore and verify fail naming it, the target stays empty', async () => {
    const body = Buffer.from(await realObject('mixed.dump.zst'));
    for (let i = Math.floor(body.length / 2); i < Math.floor(body.length / 2) + 64; i += 1) body[i] = body[i]! ^ 0x5a;
    await fakeBackup(folder(FAKE.zstCorrupt), pgOwner(), { 'globals.sql': await realObject('globals.sql'), 'mixed.dump.zst': body });
    await createDb(dst, 'zst_corrupt');
    const into = await cli(['restore', PG, '--backup-id', FAKE.zstCorrupt, '--database', 'mixed', '--to', dstUrl('zst_corrupt')]);
    expect(into.exitCode).toBe(1);
    // zstd finds the damage (in a block, or in the frame's checksum at its end), or pg_restore does in what came out.
    expect(into.stdout).toMatch(/Restore FAILED: (s3:\/\/\S+\/mixed\.dump\.zst is corrupt or truncated: |restoring s3:\/\/\S+\/mixed\.dump\.zst: pg_restore exited with code 1)/);
    expect(await tableCount(dst, 'zst_corrupt')).toBe(0);
    expect(await largeObjects(dst.url('zst_corrupt'))).toEqual([]);

    const verify = await cli(['restore', PG, '--verify', '--backup-id', FAKE.zstCorrupt]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toMatch(new RegExp(`verify app_main ${FAKE.zstCorrupt}: FAILED: .*mixed\\.dump\\.zst`));
    expect(await scratchLeft()).toEqual([]);
  });

  it.each([
    ['truncated', FAKE.zstCutForced, (body: Buffer) => body.subarray(0, Math.floor(body.length * 0.6))],
    ['corrupt', FAKE.zstCorruptForced, (body: Buffer) => Buffer.from(body.map((b, i) => (Math.abs(i - body.length / 2) < 32 ? b ^ 0x5a : b)))],
  ])('a %s .dump.zst restored with --force over a database holding data: it fails, and every table, row and large object is as before', async (_how, id, damage) => {
    await fakeBackup(folder(id), pgOwner(), { 'globals.sql': await realObject('globals.sql'), 'mixed.dump.zst': damage(await realObject('mixed.dump.zst')) });
    const target = `forced_${id.slice(-1)}`;
    const first = await cli(['restore', PG, '--backup-id', pgBackupId, '--database', 'mixed', '--to', dstUrl(target)]);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    await dst.query(target, `INSERT INTO public.events (id, kind) VALUES (0, 'written after the restore')`);
    const before = await tableFingerprint(dst, target);
    const objectsBefore = await largeObjects(dst.url(target));

    const forced = await cli(['restore', PG, '--backup-id', id, '--database', 'mixed', '--to', dstUrl(target), '--force']);
    expect(forced.exitCode).toBe(1);
    expect(forced.stdout).toMatch(/Restore FAILED: (s3:\/\/\S+\/mixed\.dump\.zst is corrupt or truncated: |restoring s3:\/\/\S+\/mixed\.dump\.zst: pg_restore exited with code 1)/);
    expect(await tableFingerprint(dst, target)).toEqual(before);
    expect(await largeObjects(dst.url(target))).toEqual(objectsBefore);
    expect(await databases(dst)).toContain(target);
  });

  it('a backup made before zstd (pg_dump -Fc, `{db}.dump`) still restores, and verifies against its counts', async () => {
    const run = await cli(['restore', PG, '--backup-id', pgdumpBackup.backupId, '--database', 'mixed', '--to', dstUrl('pgdump_copy')]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('mixed.dump →');
    expect(await tableFingerprint(dst, 'pgdump_copy')).toEqual(await tableFingerprint(src, 'mixed'));
    expect(await largeObjects(dst.url('pgdump_copy'))).toEqual(await largeObjects(src.url('mixed')));
    const verify = await cli(['restore', PG, '--verify', '--backup-id', pgdumpBackup.backupId]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`verify app_main ${pgdumpBackup.backupId}: OK: 2 databases, 6 tables, .*; rows per table as the backup counted them`));
    expect(await scratchLeft()).toEqual([]);
  });
});

describe('backups written before the current layout', () => {
  it('are listed and restored when the backups log says they are this container\'s; a stranger\'s legacy folder is not', async () => {
    // Those backups were pg_dump -Fc's own: the objects of the backup made with BACKUP_COMPRESS_POSTGRES=pgdump.
    const real = (name: string) => getObjectBuffer(s3, bucket, pgdumpBackup.folder + name);
    const ours = 'mydb/app_main/2025-01-01_02:00:00/';
    const theirs = 'mydb/app_main/2025-01-02_02:00:00/'; // another container whose name cleaned to app_main
    for (const [folder, objects] of [[ours, ['globals.sql', 'mixed.dump']], [theirs, ['globals.sql', 'shop.dump']]] as const) {
      for (const name of objects) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}${PG}_${name}`, Body: await real(name), ServerSideEncryption: 'AES256' }));
      }
    }
    await withPgClient(adminUrl, async (c) => {
      for (const [cId, folder] of [[1, ours], [99, theirs]] as const) {
        const backupId = folder.split('/')[2]!;
        for (const state of ['start', 'end']) {
          await c.query(
            `INSERT INTO backups (c_id, name, state, backup_id, backup_type, url, command, err_msg, ts)
             VALUES ($1, $2, $3, $4, 'Daily', $5, '', '', $6::timestamp)`,
            [cId, PG, state, backupId, `s3://${bucket}/${folder}`, `${backupId.slice(0, 10)} 02:00:0${state === 'start' ? 0 : 9}`],
          );
        }
      }
    });
    const doc = JSON.parse((await cli(['list', PG, '--json'])).stdout.trim());
    const legacy = doc.backups.filter((b: { legacy: boolean }) => b.legacy);
    expect(legacy.map((b: { backupId: string; status: string }) => [b.backupId, b.status])).toEqual([['2025-01-01_02:00:00', 'ok']]);
    // By when it started (its start row), not when its objects were last written: older than today's backup.
    const order = doc.backups.map((b: { backupId: string }) => b.backupId);
    expect(order.indexOf('2025-01-01_02:00:00')).toBeGreaterThan(order.indexOf(pgBackupId));
    const run = await cli(['restore', PG, '--backup-id', '2025-01-01_02:00:00', '--database', 'mixed', '--to', dstUrl('legacy_copy')]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(await tableFingerprint(dst, 'legacy_copy')).toEqual(await tableFingerprint(src, 'mixed'));
    const stranger = await cli(['restore', PG, '--backup-id', '2025-01-02_02:00:00', '--to', dstUrl()]);
    expect(stranger.exitCode).toBe(2);
    expect(stranger.stderr).toContain('no backup 2025-01-02_02:00:00 in S3');
  });
});

describe('verify', () => {
  it('test-restores into scratch databases on the verification server, counts, drops them, records it', async () => {
    const run = await cli(['verify', PG]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`OK\\s+${PG} ${pgBackupId}: 2 databases, 6 tables, [\\d,]+ rows, 2 large objects \\(mixed: 4 tables, 100,506 rows, 2 large objects; shop: 2 tables, 1,200 rows\\); rows per table as the backup counted them`));
    expect((await databases(dst)).filter((d) => d.startsWith('mydbverify_'))).toEqual([]);
    const row = (await actionLog()).filter((r) => r.action === 'verify').at(-1)!;
    expect(row).toMatchObject({ name: PG, c_id: expect.any(Number) });
    expect(row.description).toMatch(new RegExp(`^verify of backup ${pgBackupId} \\(folder \\S+\\) \\(s3://${bucket}/${pgFolder}\\): OK: 2 databases`));
  });

  it('restore --verify is the same test restore; a broken backup fails it', async () => {
    const ok = await cli(['restore', PG, '--verify']);
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/verify app_main \S+: OK: 2 databases/);
    const bad = await cli(['restore', PG, '--verify', '--backup-id', FAKE.garbage]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`verify app_main ${FAKE.garbage}: FAILED: restoring s3:.*pg_restore exited with code 1`));
    expect((await actionLog()).at(-1)!.description).toMatch(new RegExp(`^verify of backup ${FAKE.garbage} .*: FAILED: `));
    expect((await databases(dst)).filter((d) => d.startsWith('mydbverify_'))).toEqual([]);
  });

  it('the nightly sample verifies the least recently verified of the night\'s backups and returns lines for the mail', async () => {
    const summary = JSON.parse(backup.stdout.trim().split('\n').pop()!);
    // In this process, as the nightly run would. app_main was verified above; crm_box never: the sample of 1 takes crm_box.
    const lines = await nightlySample(loadConfig(env), summary.backups, env);
    expect(lines[0], lines.join('\n')).toBe('Test restores (BACKUP_VERIFY_SAMPLE=1): 1 of 1 OK');
    expect(lines[1]).toMatch(new RegExp(`OK\\s+${MARIA} ${mariaBackupId}: 2 databases, 4 tables, [\\d,]+ rows \\(crm: 2 tables, [\\d,]+ rows; wiki: 2 tables.*\\); rows per table as the backup counted them`));
    expect((await actionLog()).filter((r) => r.action === 'verify' && r.name === MARIA)).toHaveLength(1);
    expect((await mariaTarget.query(`SHOW DATABASES LIKE 'mydbverify%'`))).toEqual([]);
  });
});

describe('verify against the counts of the manifest', () => {
  it('fails when the rows that come back differ from those the backup counted, naming the tables', async () => {
    const key = `${pgFolder}manifest.json`;
    const original = await getObjectBuffer(s3, bucket, key);
    const manifest = JSON.parse(original.toString('utf8'));
    const shop = manifest.objects.find((o: { name: string }) => o.name === 'shop.dump.zst');
    const [table] = Object.keys(shop.rows.shop);
    shop.rows.shop[table!] += 1;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(manifest), ServerSideEncryption: 'AES256' }));
    try {
      const run = await cli(['verify', PG]);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`FAILED\\s+${PG} ${pgBackupId}: the rows restored differ from those the backup counted: shop: ${table!.replace('.', '\\.')} has [\\d,]+ rows, the backup counted [\\d,]+`));
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original, ServerSideEncryption: 'AES256' }));
    }
  });

  it('restore refuses a backup whose manifest lists an object that is not there', async () => {
    const id = '20980101T000000.000Z-0000aa';
    const folder = `mydb/${PG}.1/${id}/`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}shop.dump`, Body: 'x', ServerSideEncryption: 'AES256' }));
    const manifest = {
      format: 'mydb-backup manifest 2', name: PG, backupId: id, folder: id, backupType: 'Daily', engine: 'Postgres',
      owner: { kind: 'container', id: 1, name: PG, engine: 'Postgres', host: '127.0.0.1', port: src.port },
      startedAt: '2098-01-01T00:00:00.000Z', finishedAt: '2098-01-01T00:00:01.000Z',
      objects: [{ name: 'shop.dump', database: 'shop', bytes: 1, sha256: '0'.repeat(64) }, { name: 'globals.sql', bytes: 10, sha256: '0'.repeat(64) }],
    };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}manifest.json`, Body: JSON.stringify(manifest), ServerSideEncryption: 'AES256' }));
    try {
      const run = await cli(['restore', PG, '--backup-id', id, '--to', dstUrl()]);
      expect(run.exitCode).toBe(1);
      // One sentence, no stack trace, and the attempt is in action_log.
      expect(run.stdout).toContain(`Restore FAILED: backup s3://${bucket}/${folder} of '${PG}' is not whole: globals.sql is missing`);
      expect(run.stderr).toBe('');
      expect((await actionLog()).at(-1)!.description).toMatch(new RegExp(`^restore of 'app_main' --backup-id ${id}: FAILED: backup s3://.* is not whole`));
      const verify = await cli(['verify', PG, '--backup-id', id]);
      expect(verify.exitCode).toBe(1);
      expect(verify.stdout).toMatch(/FAILED\s+app_main -: backup s3:\/\/\S+ of 'app_main' is not whole: globals.sql is missing/);
      expect(verify.stderr).toBe('');
    } finally {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `${folder}shop.dump.zst` }, { Key: `${folder}manifest.json` }] } }));
    }
  });
});

describe('a failed restore is a sentence, leaves the target as it was, and is recorded (issue 12)', () => {
  it('roles the globals created are dropped again when a database step fails', async () => {
    const fresh = await startPostgres({ baseDir: await scratchDir(rig.baseDir, 'restore-roles'), name: 'pg-fresh', adminPassword: RIG_PASSWORDS.pg });
    try {
      const rolesOf = async () => (await fresh.query<{ rolname: string }>('postgres', 'SELECT rolname FROM pg_roles ORDER BY 1')).map((r) => r.rolname);
      const before = await rolesOf();
      expect(before).not.toContain('mixed_owner');
      // The garbage backup: real globals (they create mixed_owner, shop_app…), a mixed.dump pg_restore refuses.
      const run = await cli(['restore', PG, '--backup-id', FAKE.garbage, '--database', 'mixed', '--to', `postgresql://127.0.0.1:${fresh.port}/`]);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/dropped role mixed_owner, which this restore had created/);
      expect(await rolesOf()).toEqual(before);
      expect(await databases(fresh)).not.toContain('mixed');
    } finally {
      await fresh.stop();
    }
  });

  it('a target that refuses the password: one sentence, no stack, an action_log row', async () => {
    const run = await cli(['restore', PG, '--database', 'shop', '--to', `postgresql://pgdba:wrong-password@127.0.0.1:${dst.port}/refused`]);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/Restore FAILED: cannot query the target postgresql:\/\/pgdba@127\.0\.0\.1:\d+\/refused: password authentication failed for user "pgdba"/);
    expect(run.stderr).toBe('');
    expect((await actionLog()).at(-1)!.description).toMatch(/: FAILED: cannot query the target .*password authentication failed/);
  });

  it("the admin database's own server is refused as a target without --admin-db-server", async () => {
    const run = await cli(['restore', PG, '--database', 'shop', '--to', `postgresql://127.0.0.1:${rig.admin.port}/shop_on_admin`]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/is the admin database's own server: restoring onto it could overwrite the admin database or its roles; pass --admin-db-server to mean it/);
    expect((await actionLog()).at(-1)!.description).toMatch(/: REFUSED: postgresql:\/\/pgdba@127\.0\.0\.1:\d+\/shop_on_admin is the admin database's own server/);
    expect((await rig.admin.query('postgres', "SELECT 1 FROM pg_database WHERE datname = 'shop_on_admin'"))).toEqual([]);
  });

  it('a backup whose manifest is gone is refused (it is no "backup made before manifests"); --force restores it without the checks', async () => {
    const id = '20980202T000000.000Z-0000cc';
    const folder = `mydb/${PG}.1/${id}/`;
    for (const name of ['globals.sql', 'shop.dump.zst']) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: folder + name, Body: await getObjectBuffer(s3, bucket, pgFolder + name), ServerSideEncryption: 'AES256' }));
    }
    try {
      const refused = await cli(['restore', PG, '--backup-id', id, '--database', 'shop', '--to', dstUrl('no_manifest')]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stdout).toContain('has no manifest.json although it was made after manifests existed');
      expect(await databases(dst)).not.toContain('no_manifest');
      const forced = await cli(['restore', PG, '--backup-id', id, '--database', 'shop', '--to', dstUrl('no_manifest'), '--force']);
      expect(forced.exitCode, forced.stdout + forced.stderr).toBe(0);
      expect(forced.stdout).toContain('manifest: MISSING (--force): restored without the size, digest and identity checks');
      expect(await tableFingerprint(dst, 'no_manifest')).toEqual(await tableFingerprint(src, 'shop'));
    } finally {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `${folder}globals.sql` }, { Key: `${folder}shop.dump.zst` }] } }));
    }
  });
});

describe('verify --sample', () => {
  it('rotates over every active container and the admin DB: never verified first, then the longest ago', async () => {
    // app_main and crm_box were verified above; _admin-db, docs_db and spare never (docs_db has no backup yet,
    // spare none at all).
    const first = await cli(['verify', '--sample', '3']);
    expect(first.stdout).toContain('Verifying 3 backups by test restores:');
    expect(first.stdout).toMatch(/OK\s+_admin-db \S+: 1 database, 4 tables/);
    expect(first.stdout).toMatch(/FAILED\s+docs_db -: no backups of container 'docs_db' \(id 4\) in s3:/);
    expect(first.stdout).toMatch(/FAILED\s+spare -: no backups of container 'spare' \(id 3\) in s3:/);
    expect(first.exitCode).toBe(1);
    const next = await cli(['verify', '--sample', '1']);
    expect(next.exitCode, next.stdout).toBe(0);
    // crm_box was verified before app_main's last verification (the manifest test above).
    expect(next.stdout).toMatch(new RegExp(`OK\\s+${MARIA} ${mariaBackupId}: `));
    const verified = (await actionLog()).filter((r) => r.action === 'verify').map((r) => r.name);
    expect(new Set(verified)).toEqual(new Set([PG, MARIA, '_admin-db', 'docs_db', 'spare']));
  });
});

describe('MariaDB: restore', () => {
  it('restores the whole server into a fresh one: every database identical', async () => {
    const run = await cli(['restore', MARIA, '--to', mariaUrl()]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Restoring into mariadb://root@127.0.0.1:${mariaTarget.port}/ (whole server)`);
    for (const db of MARIA_SAMPLE_DBS) {
      expect(await mariaFingerprint(mariaTarget, db)).toEqual(await mariaFingerprint(rig.maria, db));
      expect(await mariaObjects(mariaTarget, db)).toEqual(await mariaObjects(rig.maria, db));
    }
    const again = await cli(['restore', MARIA, '--to', mariaUrl()]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/refusing to restore a whole server onto mariadb:\/\/root@127\.0\.0\.1:\d+\/, which holds crm \(\d+ tables\)/);
  });

  it('restores one database under a new name, leaving the others out', async () => {
    const run = await cli(['restore', MARIA, '--database', 'crm', '--to', mariaUrl('crm_copy')]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(await mariaFingerprint(mariaTarget, 'crm_copy')).toEqual(await mariaFingerprint(rig.maria, 'crm'));
    expect(await mariaObjects(mariaTarget, 'crm_copy')).toEqual(await mariaObjects(rig.maria, 'crm'));
    const missing = await cli(['restore', MARIA, '--database', 'nope', '--to', mariaUrl('nope_copy')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain("the backup holds no database 'nope' (its databases: crm, wiki)");
  });

  it('a truncated .sql.zst fails as corrupt and the database it had begun is dropped again', async () => {
    const key = `${mariaFolder}all-databases.sql.zst`; // zstd: the default compression
    const body = await getObjectBuffer(s3, bucket, key);
    const id = '20990201T000000.000Z-0000bb';
    await fakeBackup(`mydb/${MARIA}.2/${id}/`, { id: 2, name: MARIA, engine: 'MariaDB', port: rig.maria.port }, { 'all-databases.sql.zst': body.subarray(0, Math.floor(body.length * 0.7)) });
    const run = await cli(['restore', MARIA, '--backup-id', id, '--database', 'crm', '--to', mariaUrl('crm_trunc')]);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/\.sql\.zst is corrupt or truncated: .*zstd -d exited with code 1/);
    expect(await mariaTarget.query(`SHOW DATABASES LIKE 'crm_trunc'`)).toEqual([]);
  });
});

describe('MongoDB: restore (stand-in mongorestore)', () => {
  it('needs --force (no client to look first), then unzstds the archive into mongorestore --archive --drop', async () => {
    const made = await cli(['--type', 'Admin', MONGO]);
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    const target = `mongodb://127.0.0.1:${mongoPort}`;
    const refused = await cli(['restore', MONGO, '--to', target]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('cannot check whether mongodb://dbaas@127.0.0.1:');
    expect(refused.stderr).toContain('pass --force to go ahead');
    const run = await cli(['restore', MONGO, '--to', target, '--force']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const log = await readFile(mongoRestoreLog, 'utf8');
    expect(log).toMatch(/^bytes=500000\n/);
    expect(log.split('\n')).toEqual(expect.arrayContaining(['--archive', '--drop', '--stopOnError']));
    expect(log.split('\n')).not.toContain('--gzip'); // archive.zst: the pipeline decompressed it
    // No MongoDB server needed: the archive is read whole, checked as mongorestore reads it, and counted.
    const verify = await cli(['verify', MONGO]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK\s+docs_db \S+: \d+ databases?, \d+ collections, [\d,]+ documents .*; the archive checked whole \(format, CRCs\) without a server; documents per collection as the backup counted them/);
  });
});

describe('PostgreSQL: every compression setting backs up and restores', () => {
  // After the tests that restore "the latest backup": these backups are newer than the beforeAll's.
  it.each([
    ['gzip', 'mixed.dump.gz'],
    ['none', 'mixed.dump'],
  ])('BACKUP_COMPRESS_POSTGRES=%s stores %s, which restores identical', async (setting, objectName) => {
    const run = await cli(['--type', 'Admin', '--json', PG], { BACKUP_COMPRESS_POSTGRES: setting });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const made: { backupId: string; folder: string } = JSON.parse(run.stdout.trim().split('\n').pop()!).backups[0];
    expect((await listKeys(s3, bucket, made.folder)).map((k) => k.split('/').pop())).toContain(objectName);
    const body = await getObjectBuffer(s3, bucket, made.folder + objectName);
    if (setting === 'gzip') expect(body.subarray(0, 2).toString('hex')).toBe('1f8b');
    else {
      // pg_dump -Fc -Z0 as it is: the custom format, uncompressed (larger than pg_dump's own zlib of the same data).
      expect(body.subarray(0, 5).toString('latin1')).toBe('PGDMP');
      expect(body.length).toBeGreaterThan(1.5 * (await getObjectBuffer(s3, bucket, `${pgdumpBackup.folder}mixed.dump`)).length);
    }
    const target = `${setting}_copy`;
    const restored = await cli(['restore', PG, '--backup-id', made.backupId, '--database', 'mixed', '--to', dstUrl(target)]);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`${objectName} →`);
    expect(await tableFingerprint(dst, target)).toEqual(await tableFingerprint(src, 'mixed'));
    expect(await largeObjects(dst.url(target))).toEqual(await largeObjects(src.url('mixed')));
  });
});

describe('check and the lifecycle rules', () => {
  it('warns when the bucket has no abort rule, and is content once s3-lifecycle.json is applied', async () => {
    const before = await cli(['check']);
    expect(before.stdout).toMatch(/WARN {2}bucket \S+ has no lifecycle rule aborting incomplete multipart uploads/);
    const rules = JSON.parse(await readFile(new URL('../s3-lifecycle.json', import.meta.url), 'utf8'));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: rules }));
    const after = await cli(['check']);
    expect(after.stdout).toMatch(/OK {4}bucket \S+ aborts incomplete multipart uploads \(lifecycle rule\)/);
  });
});

describe('secrets', () => {
  it('no password in any output or action_log row', async () => {
    for (const out of outputs) {
      expectNoSecrets('stdout', out.stdout);
      expectNoSecrets('stderr', out.stderr);
    }
    expectNoSecrets('action_log', JSON.stringify(await actionLog()));
  });
});
