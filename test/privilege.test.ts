/**
 * Issue 12, least privilege: the tool run with the S3 permissions of a real IAM user, against moto with IAM enforced
 * (rig/moto-iam.ts). With only the three actions operators were told to grant, a failed backup cannot clean up: the
 * tool must say what it left. `check` must name each missing action and what it left, and pass with the policy of
 * docs/iam-policy.md, which is read from the document itself.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CopyObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupFailed, bucketOrCredentialsProblem, describeS3Error } from '../src/storage/s3-errors.js';
import { deleteObjects } from '../src/storage/s3.js';
import { uploadLeftOpen, uploadStream } from '../src/storage/multipart.js';
import { adminDbName, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { fakeBin, fakeDump } from './helpers/faults.js';
import { getRig } from './helpers/rig.js';
import { collect, expectNoSecrets, FIXTURE_BIN, runCli, toolEnv } from './helpers/run-cli.js';
import { scratchDir } from './rig/index.js';
import { startIamMoto, type Credentials, type IamMotoServer, type PolicyDocument } from './rig/moto-iam.js';
import { createBucket, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { startSmtp, type SmtpSink } from './rig/smtp.js';

const rig = getRig();
const MiB = 1024 * 1024;
const PREFIX = 'mydb';
/** What operators were told to grant before issue 12. */
const GUIDE_ACTIONS = ['s3:PutObject', 's3:GetObject', 's3:ListBucket'];

let dir: string;
let moto: IamMotoServer;
let sink: SmtpSink;
let admin: S3Client;
beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'privilege');
  [moto, sink] = await Promise.all([startIamMoto({ baseDir: dir }), startSmtp()]);
  admin = moto.adminS3;
});
afterAll(async () => {
  await Promise.allSettled([sink?.stop(), moto?.stop()]);
});

const guidePolicy = (bucket: string): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: GUIDE_ACTIONS, Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }],
});

/** The policy docs/iam-policy.md gives under `heading`, for this bucket and prefix. */
async function documentedPolicy(heading: string, bucket: string): Promise<PolicyDocument> {
  const doc = await readFile(new URL('../docs/iam-policy.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf(`## ${heading}\n`));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  if (!json || !doc.includes(`## ${heading}\n`)) throw new Error(`docs/iam-policy.md has no JSON policy under '## ${heading}'`);
  return JSON.parse(json.replaceAll('BUCKET', bucket).replaceAll('PREFIX', PREFIX)) as PolicyDocument;
}

let users = 0;
async function bucketAndUser(policy: (bucket: string) => PolicyDocument | Promise<PolicyDocument>) {
  const bucket = await createBucket(admin, uniqueBucketName('privilege'));
  const credentials = await moto.createUser(`user${++users}`, await policy(bucket));
  return { bucket, credentials, client: s3Client(moto.endpoint, credentials) };
}

function env(credentials: Credentials, bucket: string, dbName: string, extra: Record<string, string> = {}): Record<string, string> {
  return toolEnv({ ...rig, moto: { ...rig.moto, endpoint: moto.endpoint } }, {
    adminDb: dbName,
    bucket,
    smtp: sink,
    extra: { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, ...extra },
  });
}

async function adminDb(hint: string, containers: SeedContainer[] = []): Promise<string> {
  const dbName = adminDbName(hint);
  await createAdminDb(rig.admin, dbName, containers);
  return dbName;
}

async function* bytes(total: number): AsyncIterable<Buffer> {
  const chunk = Buffer.alloc(MiB, 7);
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
}

describe('cleanup with only the three actions operators were told to grant', () => {
  it('deleteObjects throws CleanupFailed naming every key S3 refused (a 200 answer with per-key Errors)', async () => {
    const { bucket, client } = await bucketAndUser(guidePolicy);
    const keys = [`${PREFIX}/a/2026-01-01_02:00:00/a_globals.sql`, `${PREFIX}/a/2026-01-01_02:00:00/a_shop.dump`];
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
    const err = await deleteObjects(client, bucket, keys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleanupFailed);
    expect((err as CleanupFailed).leftBehind).toEqual(keys.map((key) => ({ key, code: 'AccessDenied', message: 'Access Denied' })));
    expect((err as CleanupFailed).message).toContain(`s3://${bucket}/${keys[1]} (AccessDenied: Access Denied)`);
    expect(await listKeys(admin, bucket)).toEqual(keys);
  });

  it('deleteObjects reports a request that failed as a whole for each of its keys', async () => {
    const bucket = await createBucket(admin, uniqueBucketName('privilege'));
    const stranger = s3Client(moto.endpoint, { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' });
    const err = await deleteObjects(stranger, bucket, ['k1', 'k2']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleanupFailed);
    expect((err as CleanupFailed).leftBehind.map((l) => [l.key, l.code])).toEqual([
      ['k1', 'InvalidAccessKeyId'],
      ['k2', 'InvalidAccessKeyId'],
    ]);
    stranger.destroy();
  });

  it('uploadStream still throws the upload error, and reports the multipart upload it could not abort', async () => {
    const { bucket, client } = await bucketAndUser(guidePolicy);
    const key = `${PREFIX}/b/2026-01-01_02:00:00/b_shop.dump`;
    const dumpFailed = new Error('pg_dump exited with code 1');
    const err = await uploadStream(bytes(12 * MiB), {
      client,
      bucket,
      key,
      sse: { mode: 'AES256' },
      partSizeBytes: 5 * MiB,
      queueSize: 2,
      maxParts: 10_000,
      beforeComplete: () => Promise.reject(dumpFailed),
    }).catch((e: unknown) => e);
    expect(err).toBe(dumpFailed);
    const [open] = await listMultipartUploads(admin, bucket);
    expect(open?.key).toBe(key);
    expect(uploadLeftOpen(err)).toEqual({ key, uploadId: open!.uploadId, code: 'AccessDenied', message: 'Access Denied' });
  });

  it('a failed backup logs the objects and the upload it could not remove', async () => {
    const { bucket, credentials } = await bucketAndUser(guidePolicy);
    const dbName = await adminDb('privilege_fail', [{ name: 'shop', engine: 'Postgres', port: rig.pgB.port }]);
    // The real pg_dumpall writes the globals object; then each database's pg_dump dies after 12 MiB (> one part).
    const bin = await fakeBin(join(dir, 'bin-fail'), { pg_dump: fakeDump.failAfter(12 * MiB) });
    const json = await runCli(['shop', '--json'], env(credentials, bucket, dbName, { PATH: `${bin}:${FIXTURE_BIN}:${process.env.PATH}`, BACKUP_S3_PART_SIZE_MIB: '5' }));
    expect(json.exitCode, json.stderr).toBe(1);
    expectNoSecrets('the run', json.stdout + json.stderr);
    // The logs are on stderr with --json: read them as the other runs' stdout.
    const run = collect({ exitCode: json.exitCode, stdout: json.stderr, stderr: '' });
    const result = JSON.parse(json.stdout.trim().split('\n').pop()!);

    const [open] = await listMultipartUploads(admin, bucket);
    expect(open).toBeDefined();
    const notAborted = run.logs.find((l) => String(l.msg).startsWith('could not abort'));
    expect(notAborted).toMatchObject({ leftBehind: { key: open!.key, uploadId: open!.uploadId, code: 'AccessDenied' } });
    expect(notAborted!.msg).toContain(`multipart upload ${open!.uploadId} of s3://${bucket}/${open!.key} (AccessDenied`);

    const left = await listKeys(admin, bucket);
    expect(left).toEqual([expect.stringMatching(/^mydb\/shop\.1\/[^/]+\/globals\.sql$/)]);
    const notDeleted = run.logs.find((l) => l.msg === 'could not delete the objects of the failed backup');
    expect(String(notDeleted?.err)).toContain(`s3://${bucket}/${left[0]} (AccessDenied: Access Denied)`);
    // The run's result names both, for the mail and the caller: what is left and where.
    expect(result.ok).toBe(false);
    expect(result.backups[0].leftBehind).toEqual(
      expect.arrayContaining([
        { key: open!.key, uploadId: open!.uploadId, code: 'AccessDenied', message: 'Access Denied' },
        { key: left[0], code: 'AccessDenied', message: 'Access Denied' },
      ]),
    );

    // The next run, with the nightly host's documented policy, removes what the failed one left, and says so.
    const nightly = await moto.createUser(`user${++users}`, await documentedPolicy('The nightly host', bucket));
    const next = await runCli(['shop', '--json'], env(nightly, bucket, dbName));
    expect(next.exitCode, next.stderr).toBe(0);
    const cleanup = JSON.parse(next.stdout.trim().split('\n').pop()!).cleanup;
    expect(cleanup.removed).toEqual(expect.arrayContaining([`s3://${bucket}/${left[0]}`, `multipart upload ${open!.uploadId} of s3://${bucket}/${open!.key}`]));
    expect(cleanup.notRemoved).toEqual([]);
    expect(await listMultipartUploads(admin, bucket)).toEqual([]);
    expect(await listKeys(admin, bucket, left[0]!.split('/').slice(0, 3).join('/'))).toEqual([]);
  });
});

describe('check, as IAM users', () => {
  it('with the three actions: names each missing one, and the test object and upload it left', async () => {
    const { bucket, credentials } = await bucketAndUser(guidePolicy);
    const run = await runCli(['check'], env(credentials, bucket, await adminDb('privilege_check_guide')));
    expect(run.exitCode, run.stdout).toBe(1);
    const lines = run.stdout.split('\n');
    const about = (action: string) => lines.filter((l) => l.includes(`${action} is denied`));
    expect(about('s3:DeleteObject')).toEqual([
      `FAIL  bucket ${bucket}: s3:DeleteObject is denied (AccessDenied: Access Denied): failed backups cannot be cleaned up: ` +
        'the objects they completed stay; grant it (docs/iam-policy.md)',
    ]);
    expect(about('s3:AbortMultipartUpload')).toEqual([expect.stringMatching(/^FAIL {2}.*s3:AbortMultipartUpload is denied \(AccessDenied \(HTTP 403\): Access Denied\): the upload of a failed backup cannot be aborted/)]);
    expect(about('s3:ListBucketMultipartUploads')).toEqual([expect.stringMatching(/^FAIL {2}.*grant it \(docs\/iam-policy\.md\)$/)]);
    // Only check itself reads the lifecycle rules: a warning.
    expect(about('s3:GetLifecycleConfiguration')).toEqual([expect.stringMatching(/^WARN {2}bucket \S+: s3:GetLifecycleConfiguration is denied/)]);
    for (const allowed of GUIDE_ACTIONS) expect(about(allowed)).toEqual([]);
    expect(run.stdout).toContain(`OK    bucket ${bucket} writable with AES256 encryption`);

    // It says what it left, and exactly that is there.
    const [open] = await listMultipartUploads(admin, bucket);
    const keys = await listKeys(admin, bucket);
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^${PREFIX}/\\.mydb-backup-check-\\d+-[0-9a-f]{6}$`))]);
    const probeKey = keys[0]!;
    expect(open).toEqual({ key: probeKey, uploadId: expect.any(String) });
    expect(lines.filter((l) => l.includes('check left'))).toEqual([
      `WARN  bucket ${bucket}: check left its multipart upload ${open!.uploadId} of ${probeKey} open: ` +
        `aws s3api abort-multipart-upload --bucket ${bucket} --key '${probeKey}' --upload-id '${open!.uploadId}'`,
      `WARN  bucket ${bucket}: check left its test object s3://${bucket}/${probeKey} behind: aws s3 rm 's3://${bucket}/${probeKey}'`,
    ]);
  });

  it('without s3:GetObject: the bodyless 403 of HeadObject is named as that denial, not as a bad key', async () => {
    const { bucket, credentials } = await bucketAndUser((b) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`] }],
    }));
    const run = await runCli(['check'], env(credentials, bucket, await adminDb('privilege_check_noget')));
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(
      `FAIL  bucket ${bucket}: s3:GetObject is denied (Forbidden (HTTP 403): access denied (an answer to HEAD gives no reason: ` +
        'the access key is not valid, or lacks the permission)): uploaded backups cannot be verified, nor restored; grant it (docs/iam-policy.md)',
    );
    expect(run.stdout).toMatch(/FAIL {2}bucket \S+: s3:DeleteObject is denied/);
  });

  it("with the nightly host's policy of docs/iam-policy.md: passes, and leaves nothing", async () => {
    const { bucket, credentials } = await bucketAndUser((b) => documentedPolicy('The nightly host', b));
    const dbName = await adminDb('privilege_check_full', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
    const run = await runCli(['check'], env(credentials, bucket, dbName));
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).not.toMatch(/FAIL|denied|check left/);
    for (const action of ['s3:ListBucket', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListBucketMultipartUploads']) {
      expect(run.stdout).toMatch(new RegExp(`OK {4}bucket ${bucket}: ${action} allowed`));
    }
    expect(await listKeys(admin, bucket)).toEqual([]);
    expect(await listMultipartUploads(admin, bucket)).toEqual([]);
  });

  it('the documented policies suffice: a backup with the nightly one, list and verify with the restore-only one', async () => {
    const { bucket, credentials: nightly } = await bucketAndUser((b) => documentedPolicy('The nightly host', b));
    const restoreOnly = await moto.createUser(`user${++users}`, await documentedPolicy('A restore-only host', bucket));
    const dbName = await adminDb('privilege_roles', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
    const backup = await runCli(['alpha'], env(nightly, bucket, dbName));
    expect(backup.exitCode, backup.stdout).toBe(0);

    const restoreEnv = env(restoreOnly, bucket, dbName, { BACKUP_VERIFY_POSTGRES_URL: rig.admin.url('postgres') });
    const list = await runCli(['list', 'alpha'], restoreEnv);
    expect(list.exitCode, list.stdout + list.stderr).toBe(0);
    const verify = await runCli(['verify', 'alpha'], restoreEnv);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK\s+alpha \S+: 2 databases/);
    // And it may not write: check says so.
    const check = await runCli(['check'], restoreEnv);
    expect(check.stdout).toMatch(/FAIL {2}bucket \S+: s3:PutObject is denied/);
  });

  it('thawing an archived backup takes s3:RestoreObject: the restore-only policy has it, the nightly one does not need it', async () => {
    const { bucket, credentials: nightly } = await bucketAndUser((b) => documentedPolicy('The nightly host', b));
    const restoreOnly = await moto.createUser(`user${++users}`, await documentedPolicy('A restore-only host', bucket));
    const dbName = await adminDb('privilege_thaw', [{ name: 'alpha', engine: 'Postgres', port: rig.pgA.port }]);
    const backup = await runCli(['alpha'], env(nightly, bucket, dbName));
    expect(backup.exitCode, backup.stdout).toBe(0);
    // As a lifecycle transition to GLACIER leaves it: the same objects, archived (this moto thaws at once when asked).
    for (const Key of await listKeys(admin, bucket, `${PREFIX}/`)) {
      await admin.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource: `${bucket}/${Key}`, StorageClass: 'GLACIER', ServerSideEncryption: 'AES256' }));
    }
    const verifyEnv = (credentials: Credentials) => env(credentials, bucket, dbName, { BACKUP_VERIFY_POSTGRES_URL: rig.admin.url('postgres') });
    const denied = await runCli(['verify', 'alpha', '--thaw'], verifyEnv(nightly));
    expect(denied.exitCode).toBe(1);
    expect(denied.stdout).toMatch(
      /FAILED\s+alpha -: could not ask S3 to thaw s3:\/\/\S+: AccessDenied \(HTTP 403\): .+ \(the credentials lack s3:RestoreObject: docs\/iam-policy\.md\)/,
    );
    const thawed = await runCli(['verify', 'alpha', '--thaw'], verifyEnv(restoreOnly));
    expect(thawed.exitCode, thawed.stdout + thawed.stderr).toBe(0);
    expect(thawed.stdout).toMatch(/OK\s+alpha \S+: 2 databases/);
  });

  it('names a wrong access key id and a missing bucket in a sentence', async () => {
    const bucket = await createBucket(admin, uniqueBucketName('privilege'));
    const dbName = await adminDb('privilege_check_wrong');
    const wrongKey = await runCli(['check'], env({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'whatever' }, bucket, dbName));
    expect(wrongKey.exitCode).toBe(1);
    const bucketLines = (out: string) => out.split('\n').filter((l) => l.includes(`bucket `));
    expect(bucketLines(wrongKey.stdout)).toEqual([
      `FAIL  bucket ${bucket}: the access key AKIANOSUCHKEY0000000 is not valid: S3 knows no such access key id ` +
        '(AWS_ACCESS_KEY_ID, or what the AWS credential chain found)',
    ]);
    const missing = await runCli(['check'], env(moto.admin, 'no-such-bucket-here', dbName));
    expect(missing.exitCode).toBe(1);
    expect(bucketLines(missing.stdout)).toEqual([
      'FAIL  bucket no-such-bucket-here: the bucket no-such-bucket-here does not exist (AWS_BUCKET_NAME, or AWS_DEFAULT_REGION / the endpoint point elsewhere)',
    ]);
  });

  it('bodyless answers to HEAD (HeadBucket, HeadObject) are named from their status, not "UnknownError"', async () => {
    const bucket = await createBucket(admin, uniqueBucketName('privilege'));
    const stranger = s3Client(moto.endpoint, { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' });
    const forbidden = await stranger.send(new HeadBucketCommand({ Bucket: bucket })).catch((e: unknown) => e);
    const missingBucket = await admin.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here' })).catch((e: unknown) => e);
    const missingObject = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nothing' })).catch((e: unknown) => e);
    stranger.destroy();
    expect(describeS3Error(forbidden)).toMatch(/^Forbidden \(HTTP 403\): access denied \(an answer to HEAD gives no reason/);
    expect(bucketOrCredentialsProblem(forbidden, bucket, 'AKIANOSUCHKEY0000000')).toBe(
      `the access key AKIANOSUCHKEY0000000 is not valid or not allowed to list the bucket ${bucket} (s3:ListBucket; docs/iam-policy.md)`,
    );
    expect(bucketOrCredentialsProblem(missingBucket, 'no-such-bucket-here')).toMatch(/^the bucket no-such-bucket-here does not exist/);
    expect(describeS3Error(missingObject)).toBe('NotFound (HTTP 404): no such bucket or object');
  });
});
