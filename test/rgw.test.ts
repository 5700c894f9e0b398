/**
 * Issue 15: the S3-facing behaviour against a real S3 implementation besides moto: Ceph RGW as Debian packages it
 * (test/rig/rgw.ts). The nightly run end to end with SSE-KMS, parts that grow (with and without request checksums), a
 * failed dump that leaves no object and no multipart upload, restore, verify, list, check and the lifecycle rule; and
 * what RGW cannot do: SSE-S3 (AES256) is accepted but neither applied nor reported, so such backups fail, leave
 * nothing, and `check` says what to do. moto stays for what RGW cannot show: SSE-S3 reporting, fault injection, IAM.
 *
 * Everything is asserted through what the CLI shows (exit codes, backups rows, `list --json`, restored data, the keys
 * it logs) or through what is in a scenario's own bucket as a whole, never through object names: the key layout is
 * the S3 layout module's business and may change.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMongoSettingsPath } from './fixtures/fake-mongo.mjs';
import { adminDbName, backupsRows, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { fakeBin, fakeDump } from './helpers/faults.js';
import { getRig } from './helpers/rig.js';
import { expectNoSecrets, FIXTURE_BIN, runCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { freePort, RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { startMariadb, type MariaServer } from './rig/mariadb.js';
import { startPostgres, type PgServer } from './rig/postgres.js';
import { startRgw, type RgwServer } from './rig/rgw.js';
import { createBucket, getObjectBuffer, headObject, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { tableFingerprint } from './rig/seed.js';
import { startSmtp, type SmtpSink } from './rig/smtp.js';

const rig = getRig();
const MONGO_PASSWORD = 'mongo-Secr3t!v'; // toolEnv's BACKUP_MONGODB_PASSWORD
const MIB = 1024 * 1024;

let dir: string;
let rgw: RgwServer;
let s3: S3Client;
let dst: PgServer; // restores and PostgreSQL test restores go here
let mariaVerify: MariaServer; // MariaDB test restores go here
let sink: SmtpSink;
const mongoPorts: number[] = [];
const outputs: CliResult[] = [];

/** A port for a stand-in mongodump writing an archive of `bytes` (its settings file is chosen by the port). */
async function fakeMongo(bytes: number): Promise<number> {
  const port = await freePort();
  mongoPorts.push(port);
  await mkdir(dirname(fakeMongoSettingsPath(port)), { recursive: true });
  await writeFile(fakeMongoSettingsPath(port), `FAKE_MONGO_PASSWORD=${MONGO_PASSWORD}\nFAKE_MONGODUMP_BYTES=${bytes}\n`);
  return port;
}

beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'rgw');
  [rgw, dst, mariaVerify, sink] = await Promise.all([
    startRgw({ baseDir: dir }),
    startPostgres({ baseDir: dir, name: 'pg-dst', adminPassword: RIG_PASSWORDS.pg }),
    startMariadb({ baseDir: dir, name: 'maria-verify', rootPassword: RIG_PASSWORDS.maria }),
    startSmtp(),
  ]);
  s3 = s3Client(rgw.endpoint, rgw);
});
afterAll(async () => {
  s3?.destroy();
  await Promise.all(mongoPorts.map((port) => rm(fakeMongoSettingsPath(port), { force: true })));
  await Promise.allSettled([rgw?.stop(), dst?.stop(), mariaVerify?.stop(), sink?.stop()]);
});

interface Scenario {
  adminUrl: string;
  bucket: string;
  env: Record<string, string>;
}

let counter = 0;
/** Its own admin DB and its own RGW bucket; SSE-KMS with RGW's test key unless `extra` says otherwise. */
async function scenario(containers: SeedContainer[], opts: { fake?: Record<string, string>; extra?: Record<string, string> } = {}): Promise<Scenario> {
  const hint = `rgw${++counter}`;
  const dbName = adminDbName(hint);
  const adminUrl = await createAdminDb(rig.admin, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName(hint));
  const bin = await fakeBin(join(dir, `bin${counter}`), opts.fake ?? {});
  const env = toolEnv(rig, {
    adminDb: dbName,
    bucket,
    smtp: sink,
    extra: {
      PATH: `${bin}:${FIXTURE_BIN}:${process.env.PATH}`,
      AWS_ENDPOINT_URL_S3: rgw.endpoint,
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      BACKUP_SSE: 'aws:kms',
      BACKUP_SSE_KMS_KEY_ID: rgw.kmsKeyId,
      BACKUP_VERIFY_POSTGRES_URL: dst.url('postgres'),
      BACKUP_VERIFY_MARIADB_URL: `mariadb://root@127.0.0.1:${mariaVerify.port}`,
      ...opts.extra,
    },
  });
  sink.clear();
  return { adminUrl, bucket, env };
}

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const result = await runCli(args, env);
  outputs.push(result);
  return result;
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');
const uploadedLogs = (run: CliResult) => run.logs.filter((l) => l.msg === 'object uploaded');

/** Nothing anywhere in the bucket, and no multipart upload left open: a failure left nothing behind. */
async function expectEmptyBucket(bucket: string): Promise<void> {
  expect(await listKeys(s3, bucket)).toEqual([]);
  expect(await listMultipartUploads(s3, bucket)).toEqual([]);
}

describe('the RGW of the rig', () => {
  it('lists an open multipart upload until it is aborted (so the "none left open" checks below can fail)', async () => {
    const bucket = await createBucket(s3, uniqueBucketName('rgw-rig'));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'pending' }));
    expect(await listMultipartUploads(s3, bucket)).toEqual([{ key: 'pending', uploadId: UploadId }]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'pending', UploadId }));
    expect(await listMultipartUploads(s3, bucket)).toEqual([]);
  });
});

describe('the nightly run on RGW with SSE-KMS', () => {
  const PG = 'alpha';
  const MARIA = 'crm-box';
  const MONGO = 'docs';
  let s: Scenario;
  let run: CliResult;

  beforeAll(async () => {
    s = await scenario([
      { name: PG, engine: 'Postgres', port: rig.pgA.port },
      { name: MARIA, engine: 'MariaDB', port: rig.maria.port },
      { name: MONGO, engine: 'MongoDB', port: await fakeMongo(MIB) },
    ]);
    run = await cli([], s.env);
  });

  it('backs up every container and the admin DB: exit 0, successful end rows, an OK mail', async () => {
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const rows = await backupsRows(s.adminUrl);
    for (const name of [PG, MARIA, MONGO, '_admin-db']) {
      expect(rows.filter((r) => r.name === name).map((r) => `${r.state}:${r.err_msg}`), name).toEqual(['start:', 'end:']);
    }
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.subject).toMatch(/^\[mydb-backup\] OK: 4 backups/);
  });

  it('stores every object encrypted with the configured KMS key, as RGW reports it, and leaves no multipart upload open', async () => {
    const keys = await listKeys(s3, s.bucket);
    // The objects the run says it uploaded are all there (the manifests come on top).
    expect(keys).toEqual(expect.arrayContaining(uploadedLogs(run).map((l) => String(l.key))));
    expect(uploadedLogs(run).length).toBeGreaterThanOrEqual(6); // globals, 2 databases, MariaDB, MongoDB, admin DB
    for (const key of keys) {
      const head = await headObject(s3, s.bucket, key);
      expect(head.ServerSideEncryption, key).toBe('aws:kms');
      expect(head.SSEKMSKeyId, key).toBe(rgw.kmsKeyId);
    }
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
  });

  it('stores what the run hashed: every object read back from RGW has the SHA-256 the run logged', async () => {
    for (const uploaded of uploadedLogs(run)) {
      const body = await getObjectBuffer(s3, s.bucket, String(uploaded.key));
      expect(body.length, String(uploaded.key)).toBe(uploaded.bytes);
      expect(sha256(body), String(uploaded.key)).toBe(uploaded.sha256);
    }
  });

  it('list --json shows the backups as successful and in S3, with their objects and sizes (a container, the admin DB)', async () => {
    for (const [name, args] of [[PG, [PG]], ['_admin-db', ['--admin-db']]] as const) {
      const listed = await cli(['list', ...args, '--json'], s.env);
      expect(listed.exitCode, listed.stdout + listed.stderr).toBe(0);
      const doc = JSON.parse(listed.stdout.trim());
      expect(doc.backups, name).toHaveLength(1);
      expect(doc.backups[0], name).toMatchObject({ status: 'ok', inS3: true });
      expect(doc.backups[0].objects.length, name).toBeGreaterThan(0);
      expect(doc.backups[0].objects.every((o: { bytes: number }) => o.bytes > 0), name).toBe(true);
      if (name === PG) expect(doc.backups[0].objects).toHaveLength(3); // the globals and the two databases
    }
  });

  it('restore streams the PostgreSQL backup from RGW into another server: every database identical', async () => {
    const restored = await cli(['restore', PG, '--to', `postgresql://127.0.0.1:${dst.port}/`], s.env);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    for (const db of ['shop', 'blog']) {
      const before = await tableFingerprint(rig.pgA, db);
      expect(before.length).toBeGreaterThan(0);
      expect(await tableFingerprint(dst, db), db).toEqual(before);
    }
  });

  it('verify test-restores every backup from RGW: PostgreSQL, MariaDB, MongoDB and the admin DB', async () => {
    const verified = await cli(['verify'], s.env);
    expect(verified.exitCode, verified.stdout + verified.stderr).toBe(0);
    for (const name of [PG, MARIA, MONGO, '_admin-db']) expect(verified.stdout).toMatch(new RegExp(`OK\\s+${name} \\S+: `));
  });

  it('check passes with aws:kms, warns about the missing abort rule, and is content once s3-lifecycle.json is applied', async () => {
    const before = await cli(['check'], s.env);
    expect(before.exitCode, before.stdout).toBe(0);
    expect(before.stdout).toContain(`OK    bucket ${s.bucket} writable with aws:kms encryption`);
    expect(before.stdout).toMatch(/WARN {2}bucket \S+ has no lifecycle rule aborting incomplete multipart uploads/);
    // RGW takes the shipped rules as they are (the transition to STANDARD_IA included).
    const rules = JSON.parse(await readFile(new URL('../s3-lifecycle.json', import.meta.url), 'utf8'));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: s.bucket, LifecycleConfiguration: rules }));
    const after = await cli(['check'], s.env);
    expect(after.exitCode, after.stdout).toBe(0);
    expect(after.stdout).toMatch(/OK {4}bucket \S+ aborts incomplete multipart uploads \(lifecycle rule\)/);
  });
});

describe('multipart uploads on RGW', () => {
  // Fixed 5 MiB parts would need 3, more than BACKUP_S3_MAX_PARTS=2 allows; the schedule 5, 10 MiB stores it in 2 of
  // different sizes (5 and 9 MiB).
  const size = 14 * MIB;

  it.each(['WHEN_SUPPORTED', 'WHEN_REQUIRED'])('parts grow so a stream of unknown length fits the part limit (BACKUP_S3_CHECKSUM=%s)', async (checksum) => {
    const s = await scenario([{ name: 'growing', engine: 'Postgres', port: rig.pgB.port }], {
      fake: { pg_dump: fakeDump.bytes(size) },
      // Stored as the dump writes them (no zstd): the object's size is the dump's.
      extra: { BACKUP_S3_PART_SIZE_MIB: '5', BACKUP_S3_MAX_PARTS: '2', BACKUP_S3_CHECKSUM: checksum, BACKUP_COMPRESS_POSTGRES: 'none' },
    });
    const run = await cli(['growing'], s.env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const dump = uploadedLogs(run).find((l) => l.bytes === size);
    expect(dump).toMatchObject({ parts: 2 });
    const key = String(dump!.key);
    const head = await headObject(s3, s.bucket, key);
    expect(head).toMatchObject({ ContentLength: size, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: rgw.kmsKeyId });
    // RGW put the parts of different sizes together in order: the bytes are those the run hashed.
    expect(sha256(await getObjectBuffer(s3, s.bucket, key))).toBe(dump!.sha256);
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
  });

  it('a dump that fails mid-stream: its upload is aborted and what the backup had completed is deleted; nothing is left', async () => {
    // The globals and the first database (blog) complete; the second (shop) fails after its first part was uploaded.
    const realOrFail = `case "$*" in *"dbname='shop'"*) ${fakeDump.failAfter(8 * MIB).replace(/\n/g, '; ')} ;; esac\nexec /usr/bin/pg_dump "$@"`;
    const s = await scenario([{ name: 'half', engine: 'Postgres', port: rig.pgA.port }], {
      fake: { pg_dump: realOrFail },
      extra: { BACKUP_S3_PART_SIZE_MIB: '5' },
    });
    const run = await cli(['half'], s.env);
    expect(run.exitCode).toBe(1);
    expect(uploadedLogs(run)).toHaveLength(2);
    const end = (await backupsRows(s.adminUrl)).find((r) => r.name === 'half' && r.state === 'end');
    expect(end!.err_msg).toMatch(/^ERROR: pg_dump exited with code 1: pg_dump: error: Dumping the contents of table "orders" failed/);
    await expectEmptyBucket(s.bucket);
    const listed = JSON.parse((await cli(['list', 'half', '--json'], s.env)).stdout.trim());
    expect(listed.backups.filter((b: { inS3: boolean }) => b.inS3)).toEqual([]);
  });
});

describe('SSE-S3 (BACKUP_SSE=AES256) on RGW: accepted, but neither applied nor reported', () => {
  it('every backup fails verification and leaves no object and no multipart upload (single PutObject and multipart alike)', async () => {
    const s = await scenario(
      [
        { name: 'small', engine: 'Postgres', port: rig.pgA.port }, // objects of one part: PutObject
        { name: 'big', engine: 'MongoDB', port: await fakeMongo(7 * MIB) }, // one 7 MiB object: a multipart upload
      ],
      { extra: { BACKUP_SSE: 'AES256', BACKUP_SSE_KMS_KEY_ID: '', BACKUP_S3_PART_SIZE_MIB: '5', BACKUP_COMPRESS_MONGODB: 'none' } },
    );
    const run = await cli(['small', 'big'], s.env);
    expect(run.exitCode).toBe(1);
    const ends = (await backupsRows(s.adminUrl)).filter((r) => r.state === 'end');
    expect(ends.map((r) => r.name).sort()).toEqual(['big', 'small']);
    for (const end of ends) {
      expect(end.err_msg, end.name).toMatch(/^ERROR: object s3:\/\/\S+ failed verification: server-side encryption is 'none', not 'AES256'/);
    }
    await expectEmptyBucket(s.bucket);
  });

  it("check fails and says what to do: BACKUP_SSE=aws:kms, or the bucket's own default encryption where the store reports it", async () => {
    const s = await scenario([], { extra: { BACKUP_SSE: 'AES256', BACKUP_SSE_KMS_KEY_ID: '' } });
    const check = await cli(['check'], s.env);
    expect(check.exitCode).toBe(1);
    const fail = check.stdout.split('\n').find((l) => l.startsWith('FAIL'));
    expect(fail).toContain(`bucket ${s.bucket}: a test object was stored with the wrong encryption: server-side encryption is 'none', not 'AES256'`);
    expect(fail).toContain('the store took the AES256 request but does not report SSE-S3 on its objects');
    expect(fail).toContain('set BACKUP_SSE=aws:kms with BACKUP_SSE_KMS_KEY_ID, or give the bucket a default encryption where the store reports it');
    // The probe object is gone again.
    await expectEmptyBucket(s.bucket);
  });
});

/** What docs/s3-stores.md says of this RGW, checked: a newer radosgw that changes any of it fails here. */
describe('RGW facts for docs/s3-stores.md', () => {
  let bucket: string;
  beforeAll(async () => {
    bucket = await createBucket(s3, uniqueBucketName('rgw-facts'));
  });

  async function multipart(key: string, body: Buffer, ifNoneMatch?: string) {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body }));
    return s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
  }
  const bodyOf = async (key: string) => getObjectBuffer(s3, bucket, key);

  it('honours If-None-Match: * on PutObject: the second conditional write of a key fails with 412', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'put-once', Body: 'first', IfNoneMatch: '*' }));
    const second = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'put-once', Body: 'second', IfNoneMatch: '*' }));
    await expect(second).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect((await bodyOf('put-once')).toString()).toBe('first');
  });

  it('ignores If-None-Match: * on CompleteMultipartUpload: the second completes and replaces the object', async () => {
    await multipart('complete-once', Buffer.from('first'), '*');
    await multipart('complete-once', Buffer.from('second'), '*');
    expect((await bodyOf('complete-once')).toString()).toBe('second');
  });

  it('accepts flexible checksums and ignores them: a wrong CRC32 is stored, none is reported', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-crc', Body: 'hello', ChecksumCRC32: 'AAAAAA==' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad-crc', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32).toBeUndefined();
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad-crc', ChecksumMode: 'ENABLED' }));
    expect(await got.Body!.transformToString()).toBe('hello');
  });

  it('checks the SigV4 payload hash of a part (what BACKUP_S3_CHECKSUM=WHEN_REQUIRED sends): a part whose bytes differ is refused', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'signed-part' }));
    const part = new UploadPartCommand({ Bucket: bucket, Key: 'signed-part', UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) });
    // Signed as if the part held other bytes: the signature is valid, the payload is not what it claims.
    const otherHash = createHash('sha256').update('other bytes').digest('hex');
    part.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = otherHash;
        return next(args);
      },
      { step: 'build', name: 'wrongPayloadHash' },
    );
    await expect(s3.send(part)).rejects.toMatchObject({ name: 'XAmzContentSHA256Mismatch', $metadata: { httpStatusCode: 400 } });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'signed-part', UploadId }));
  });

  it('stores SSE-S3 objects unencrypted as far as it reports, and has no bucket default encryption to turn on', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse-s3', Body: 'x', ServerSideEncryption: 'AES256' }));
    expect((await headObject(s3, bucket, 'sse-s3')).ServerSideEncryption).toBeUndefined();
    const defaultEncryption = s3.send(
      new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }),
    );
    await expect(defaultEncryption).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
  });
});

describe('secrets', () => {
  it('no password in any output of the CLI against RGW', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) {
      expectNoSecrets('stdout', out.stdout);
      expectNoSecrets('stderr', out.stderr);
    }
  });
});
