/**
 * Issue 3: the MariaDB and MongoDB containers go through the same pipeline. MariaDB against the rig's real server
 * (restored with the mariadb client into a fresh server and compared); MongoDB with the stand-in mongodump, and a
 * real round trip when mongodump, mongorestore and MONGO_TEST_URI are there.
 */
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRig } from './helpers/rig.js';
import { adminDbName, backupsRows, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { expectNoSecrets, runCli, toolEnv } from './helpers/run-cli.js';
import { createBucket, getObjectBuffer, getObjectStream, headObject, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { startMariadb, type MariaServer } from './rig/mariadb.js';
import { MARIA_SAMPLE_DBS, mariaFingerprint, mariaObjects } from './rig/seed.js';
import { freePort } from './rig/ports.js';
import { scratchDir, RIG_PASSWORDS } from './rig/index.js';
import { ARCHIVE_MAGIC, fakeMongoSettingsPath } from './fixtures/fake-mongo.mjs';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
const MONGO_PASSWORD = 'mongo-Secr3t!v';

async function scenario(hint: string, containers: SeedContainer[], extra: Record<string, string> = {}) {
  const dbName = adminDbName(hint);
  const adminUrl = await createAdminDb(rig.admin, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName(hint));
  return { adminUrl, bucket, env: toolEnv(rig, { adminDb: dbName, bucket, extra }) };
}

const rowsOf = backupsRows;

describe('MariaDB containers', () => {
  let target: MariaServer;
  beforeAll(async () => {
    target = await startMariadb({ baseDir: await scratchDir(rig.baseDir, 'maria-restore'), rootPassword: RIG_PASSWORDS.maria });
  });
  afterAll(async () => {
    await target?.stop();
  });

  it('are dumped with mariadb-dump into all-databases.sql.zst (zstd by default) with SSE, and the object restores into a fresh server', async () => {
    const s = await scenario('maria', [{ name: 'crmbox', engine: 'MariaDB', port: rig.maria.port }]);
    const run = await runCli(['--type', 'Admin', 'crmbox'], s.env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const [key, manifestKey, ...more] = await listKeys(s3, s.bucket, 'mydb/crmbox.');
    expect(more).toEqual([]);
    expect(key).toMatch(/^mydb\/crmbox\.1\/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}\/all-databases\.sql\.zst$/);
    expect(manifestKey).toBe(key!.replace(/[^/]+$/, 'manifest.json'));
    // The rows per table, counted in the dump stream, are those of the server.
    const manifest = JSON.parse((await getObjectBuffer(s3, s.bucket, manifestKey!)).toString('utf8'));
    expect(manifest.objects).toHaveLength(1);
    for (const db of MARIA_SAMPLE_DBS) {
      const counted = await rig.maria.query(
        `SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' AND TABLE_TYPE = 'BASE TABLE'`,
      );
      const exact: Record<string, number> = {};
      for (const [table] of counted) exact[table!] = Number((await rig.maria.query(`SELECT COUNT(*) FROM \`${db}\`.\`${table}\``))[0]![0]);
      expect(manifest.objects[0].rows[db], db).toEqual(exact);
    }
    expect((await headObject(s3, s.bucket, key!)).ServerSideEncryption).toBe('AES256');

    const rows = await rowsOf(s.adminUrl);
    expect(rows.map((r) => `${r.state}:${r.err_msg}`)).toEqual(['start:', 'end:']);
    expect(rows[1]!.url).toBe(`s3://${s.bucket}/${key}`);
    expect(rows[1]!.command).toContain('mariadb-dump --defaults-file=<0600-temp-file>');
    expect(rows[1]!.command).toContain('--single-transaction');
    expectNoSecrets('backups rows', JSON.stringify(rows));
    expectNoSecrets('log', run.stdout + run.stderr);

    // Restore as an operator would: unzstd the object into the mariadb client on a fresh server.
    const body = await getObjectStream(s3, s.bucket, key!);
    const client = execa('sh', ['-c', `zstd -dc | mariadb --protocol=TCP -h 127.0.0.1 -P ${target.port} -u root --binary-mode`], {
      env: { MYSQL_PWD: RIG_PASSWORDS.maria },
      stdin: 'pipe',
    });
    body.pipe(client.stdin!);
    await client;
    for (const db of MARIA_SAMPLE_DBS) {
      expect(await mariaFingerprint(target, db)).toEqual(await mariaFingerprint(rig.maria, db));
      expect(await mariaObjects(target, db)).toEqual(await mariaObjects(rig.maria, db));
    }
  });

  it.each([
    ['BACKUP_COMPRESS_MARIADB=gzip', { BACKUP_COMPRESS_MARIADB: 'gzip' }, [], '.sql.gz', (b: Buffer) => gunzipSync(b).toString('utf8', 0, 200).includes('MariaDB dump')],
    ['the default (zstd)', {}, [], '.sql.zst', (b: Buffer) => b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))],
    ['--compress none', {}, ['--compress', 'none'], '.sql', (b: Buffer) => b.toString('utf8', 0, 200).includes('MariaDB dump')],
  ])('compress with %s into %s', async (label, extra, flags, suffix, looksRight) => {
    const s = await scenario(`maria${label.length}`, [{ name: 'crmbox', engine: 'MariaDB', port: rig.maria.port }], extra);
    const run = await runCli([...flags, 'crmbox'], s.env);
    expect(run.exitCode, run.stdout).toBe(0);
    const [key] = await listKeys(s3, s.bucket, 'mydb/crmbox.');
    expect(key!.endsWith(suffix)).toBe(true);
    expect(looksRight(await getObjectBuffer(s3, s.bucket, key!))).toBe(true);
  });

  it('the dump\'s first bytes are not lost while the compressor is slow to start (its output pipe takes a while)', async () => {
    // mariadb-dump prints its header at once; execa drains what nobody reads, so the dump may only start once the
    // compressor it writes into is running.
    const bin = await scratchDir(rig.baseDir, 'slow-mkfifo');
    const { stdout: mkfifo } = await execa('sh', ['-c', 'command -v mkfifo']);
    await writeFile(`${bin}/mkfifo`, `#!/bin/sh\nsleep 0.5\nexec ${mkfifo} "$@"\n`, { mode: 0o755 });
    const s = await scenario('mariaslow', [{ name: 'crmbox', engine: 'MariaDB', port: rig.maria.port }], { PATH: `${bin}:${process.env.PATH}` });
    const run = await runCli(['crmbox'], s.env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const [key, manifestKey] = await listKeys(s3, s.bucket, 'mydb/crmbox.');
    const { stdout: sql } = await execa('zstd', ['-dc'], { input: await getObjectBuffer(s3, s.bucket, key!), encoding: 'buffer' });
    expect(Buffer.from(sql).toString('utf8', 0, 300)).toContain('-- MariaDB dump');
    const manifest = JSON.parse((await getObjectBuffer(s3, s.bucket, manifestKey!)).toString('utf8'));
    expect(Object.keys(manifest.objects[0].rows)).toEqual(expect.arrayContaining([...MARIA_SAMPLE_DBS]));
  });

  it('a wrong password fails that container alone with the server message', async () => {
    const s = await scenario('mariabad', [
      { name: 'crmbox', engine: 'MariaDB', port: rig.maria.port },
      { name: 'pgbox', engine: 'Postgres', port: rig.pgB.port },
    ], { BACKUP_MARIADB_PASSWORD: 'not-the-password' });
    const run = await runCli(['crmbox', 'pgbox'], s.env);
    expect(run.exitCode).toBe(1);
    const rows = await rowsOf(s.adminUrl);
    expect(rows.find((r) => r.name === 'crmbox' && r.state === 'end')!.err_msg).toMatch(/^ERROR: mariadb-dump exited with code 2: .*Access denied/);
    expect(rows.find((r) => r.name === 'pgbox' && r.state === 'end')!.err_msg).toBe('');
    expect(await listKeys(s3, s.bucket, 'mydb/crmbox.')).toEqual([]);
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
  });
});

describe('MongoDB containers (stand-in mongodump)', () => {
  async function mongoScenario(hint: string, settings: Record<string, string | number>, extra: Record<string, string> = {}) {
    const port = await freePort();
    const log = `${rig.baseDir}/mongodump-${hint}-${port}.log`;
    const file = fakeMongoSettingsPath(port);
    await mkdir(dirname(file), { recursive: true });
    const lines = { FAKE_MONGO_PASSWORD: MONGO_PASSWORD, FAKE_MONGODUMP_LOG: log, ...settings };
    await writeFile(file, Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n'));
    const s = await scenario(hint, [{ name: 'docs', engine: 'MongoDB', port }], extra);
    return { ...s, log };
  }

  it('are dumped with mongodump --archive --gzip, password only in a 0600 --config file, into archive.gz with SSE', async () => {
    const s = await mongoScenario('mongo', { FAKE_MONGODUMP_BYTES: 2 * 1024 * 1024 }, { BACKUP_COMPRESS_MONGODB: 'gzip' });
    const run = await runCli(['docs'], s.env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const [key] = await listKeys(s3, s.bucket, 'mydb/docs.');
    expect(key).toMatch(/^mydb\/docs\.1\/[^/]+\/archive\.gz$/);
    expect((await headObject(s3, s.bucket, key!)).ServerSideEncryption).toBe('AES256');
    // With --archive, mongodump --gzip gzips the whole archive.
    expect(gunzipSync(await getObjectBuffer(s3, s.bucket, key!)).subarray(0, 4)).toEqual(ARCHIVE_MAGIC);
    // The documents per collection, counted in the archive as it streamed past (the stand-in's default content).
    const manifest = JSON.parse((await getObjectBuffer(s3, s.bucket, key!.replace(/archive\.gz$/, 'manifest.json'))).toString('utf8'));
    expect(manifest.objects[0].rows).toMatchObject({ admin: { 'system.version': 2 }, shop: { audit_log: 0 } });
    expect(Object.keys(manifest.objects[0].rows).sort()).toEqual(['admin', 'crm', 'shop']);
    const argv = (await readFile(s.log, 'utf8')).split('--- env ---')[0]!;
    expect(argv).toContain('--archive');
    expect(argv).toContain('--gzip');
    expect(argv).toContain('--authenticationDatabase=admin');
    expect(argv).toMatch(/--config=\S+/);
    expectNoSecrets('mongodump argv', argv, [MONGO_PASSWORD]);
    const rows = await rowsOf(s.adminUrl);
    expect(rows.map((r) => `${r.state}:${r.backup_type}:${r.err_msg}`)).toEqual(['start:Admin:', 'end:Admin:']);
    expect(rows[1]!.url).toBe(`s3://${s.bucket}/${key}`);
    expectNoSecrets('rows', JSON.stringify(rows), [MONGO_PASSWORD]);
  });

  it('BACKUP_COMPRESS_MONGODB=none writes a plain archive', async () => {
    const s = await mongoScenario('mongoplain', {}, { BACKUP_COMPRESS_MONGODB: 'none' });
    expect((await runCli(['docs'], s.env)).exitCode).toBe(0);
    expect((await listKeys(s3, s.bucket, 'mydb/docs.'))[0]).toMatch(/\/archive$/);
  });

  it('a mongodump failing mid-stream aborts the upload: no object, an ERROR row with its stderr, exit 1', async () => {
    const s = await mongoScenario('mongofail', { FAKE_MONGODUMP_FAIL_AFTER: 12 * 1024 * 1024, FAKE_MONGODUMP_BYTES: 64 * 1024 * 1024 }, { BACKUP_COMPRESS_MONGODB: 'none', BACKUP_S3_PART_SIZE_MIB: '5' });
    const run = await runCli(['docs'], s.env);
    expect(run.exitCode).toBe(1);
    expect(await listKeys(s3, s.bucket, '')).toEqual([]);
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
    const end = (await rowsOf(s.adminUrl)).find((r) => r.state === 'end')!;
    expect(end.err_msg).toMatch(/^ERROR: mongodump exited with code 1: Failed: connection reset by peer/);
  });

  it.each([
    ['plain', { BACKUP_COMPRESS_MONGODB: 'none' }],
    ['--gzip', { BACKUP_COMPRESS_MONGODB: 'gzip' }],
    ['zstd (the default)', {}],
  ])('a %s archive that mongorestore would refuse (a wrong CRC) fails the backup though mongodump exited 0: no object', async (_label, extra) => {
    const s = await mongoScenario(`mongocrc${_label.length}x`, { FAKE_MONGODUMP_CORRUPT: 'crc', FAKE_MONGODUMP_BYTES: 3 * 1024 * 1024 }, extra);
    const run = await runCli(['docs'], s.env);
    expect(run.exitCode).toBe(1);
    expect(await listKeys(s3, s.bucket, '')).toEqual([]);
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
    const end = (await rowsOf(s.adminUrl)).find((r) => r.state === 'end')!;
    expect(end.err_msg).toMatch(/^ERROR: the archive mongodump wrote is not valid \(mongorestore would refuse it\): .*CRC/);
  });
});

const realMongo = process.env.MONGO_TEST_URI;
const haveMongoTools = await Promise.all(['mongodump', 'mongorestore'].map((t) => execa('which', [t], { reject: false }).then((r) => r.exitCode === 0 && !r.stdout.includes('fixtures'))));
describe.runIf(realMongo && haveMongoTools.every(Boolean))('MongoDB round trip against a real server (MONGO_TEST_URI)', () => {
  it('dumps and restores an archive with the real tools', async () => {
    const url = new URL(realMongo!);
    const s = await scenario('realmongo', [{ name: 'realdocs', engine: 'MongoDB', port: Number(url.port || 27017) }], {
      PATH: process.env.PATH ?? '',
      BACKUP_DB_HOST: url.hostname,
      BACKUP_MONGODB_USER: decodeURIComponent(url.username),
      BACKUP_MONGODB_PASSWORD: decodeURIComponent(url.password),
      BACKUP_COMPRESS_MONGODB: 'gzip', // archive.gz, which mongorestore --gzip reads below
    });
    const run = await runCli(['realdocs'], s.env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const [key] = await listKeys(s3, s.bucket, 'mydb/realdocs.');
    const restore = execa('mongorestore', ['--archive', '--gzip', '--dryRun', `--uri=${realMongo}`], { stdin: 'pipe' });
    (await getObjectStream(s3, s.bucket, key!)).pipe(restore.stdin!);
    expect((await restore).exitCode).toBe(0);
    // The real archive passes the archive check, and its documents match what the backup counted.
    const verify = await runCli(['verify', 'realdocs'], s.env);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK\s+realdocs \S+: .*documents per collection as the backup counted them/);
  });
});
