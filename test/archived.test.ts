/**
 * Issue 16, item 3: backups S3 has archived. A backup made by the tool is rewritten to GLACIER (CopyObject onto
 * itself with StorageClass, as a lifecycle transition leaves it: same bytes, same keys), in a moto of this file's own
 * whose RestoreObject takes THAW_SECONDS (moto's state manager; by default it thaws at once). `list` shows the class,
 * `restore` and `verify` refuse it in one sentence (exit 5) before touching anything, the nightly sample passes over
 * it and says so, and `--thaw` asks S3 for copies, says when to come back when told not to wait, or waits and then
 * restores as usual: the data matches.
 */
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { BackupResult } from '../src/pipeline/backup-job.js';
import { adminDbName, createAdminDb } from './helpers/admin-db.js';
import { nightlySample } from './helpers/restore.js';
import { getRig } from './helpers/rig.js';
import { expectNoSecrets, runCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { RIG_PASSWORDS, scratchDir, startMoto, type MotoServer } from './rig/index.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { createBucket, headObject, listKeys, s3Client, uniqueBucketName } from './rig/s3.js';
import { tableFingerprint } from './rig/seed.js';

const rig = getRig();
const FROZEN = 'frozen'; // its backup goes to GLACIER
const PLAIN = 'plain'; // its backup stays in STANDARD
/** How long this moto takes to thaw an object (from the first look after RestoreObject). */
const THAW_SECONDS = 15;

let moto: MotoServer;
let dst: PgServer; // restore target and verification server
let s3: ReturnType<typeof s3Client>;
let adminUrl: string;
let bucket: string;
let env: Record<string, string>;
let summary: { backups: (BackupResult & { id: number })[] };
let frozenFolder: string;
let frozenBackupId: string;
let frozenFolderId: string;
/** How messages name it: `{backup_id} (folder {folder id})`. */
let frozenLabel: string;
let frozenKeys: string[];
let archivedAt: number;
const outputs: CliResult[] = [];

async function cli(args: string[]): Promise<CliResult> {
  const result = await runCli(args, env);
  outputs.push(result);
  return result;
}
const actionLog = () => withPgClient(adminUrl, async (c) => (await c.query<{ name: string; action: string; description: string }>('SELECT * FROM action_log ORDER BY id')).rows);
const databases = async () => (await dst.query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).map((r) => r.datname);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  const dir = await scratchDir(rig.baseDir, 'archived');
  [moto, dst] = await Promise.all([startMoto({ baseDir: dir, name: 'moto-glacier' }), startPostgres({ baseDir: dir, name: 'pg-dst', adminPassword: RIG_PASSWORDS.pg })]);
  // moto thaws at once unless told otherwise: here an object is 'thawing' for THAW_SECONDS after the first look.
  const set = await fetch(`${moto.endpoint}/moto-api/state-manager/set-transition`, {
    method: 'POST',
    body: JSON.stringify({ model_name: 's3::keyrestore', transition: { progression: 'time', seconds: THAW_SECONDS } }),
  });
  expect(set.status).toBe(201);
  s3 = s3Client(moto.endpoint);
  bucket = await createBucket(s3, uniqueBucketName('archived'));
  const dbName = adminDbName('archived');
  adminUrl = await createAdminDb(rig.admin, dbName, [
    { name: FROZEN, engine: 'Postgres', port: rig.pgA.port },
    { name: PLAIN, engine: 'Postgres', port: rig.pgA.port },
  ]);
  env = toolEnv({ ...rig, moto: { ...rig.moto, endpoint: moto.endpoint } }, { adminDb: dbName, bucket, extra: { BACKUP_VERIFY_POSTGRES_URL: dst.url('postgres') } });

  const backup = await cli(['--type', 'Admin', '--json', FROZEN, PLAIN]);
  expect(backup.exitCode, backup.stdout + backup.stderr).toBe(0);
  summary = JSON.parse(backup.stdout.trim().split('\n').pop()!);
  const frozen = summary.backups.find((b) => b.name === FROZEN)!;
  [frozenFolder, frozenBackupId] = [frozen.folder, frozen.backupId];
  frozenFolderId = frozenFolder.split('/')[2]!;
  frozenLabel = `${frozenBackupId} (folder ${frozenFolderId})`;
  // What a lifecycle transition to GLACIER does: every object of the backup, manifest included, same bytes and keys.
  frozenKeys = await listKeys(s3, bucket, frozenFolder);
  for (const key of frozenKeys) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        StorageClass: 'GLACIER',
        ServerSideEncryption: 'AES256',
        MetadataDirective: 'COPY',
      }),
    );
  }
  archivedAt = Date.now();
}, 180_000);

afterAll(async () => {
  s3?.destroy();
  await Promise.allSettled([moto?.stop(), dst?.stop()]);
});

describe('an archived backup is recognised, and nothing is read from it', () => {
  it('the setup: the backup is in GLACIER and S3 refuses to read it', async () => {
    expect(frozenKeys.map((k) => k.split('/').pop())).toEqual(['blog.dump.zst', 'globals.sql', 'manifest.json', 'shop.dump.zst']);
    expect((await headObject(s3, bucket, frozenKeys[0]!)).StorageClass).toBe('GLACIER');
  });

  it('list shows the storage class of each backup, and that the archived one needs --thaw', async () => {
    const text = await cli(['list', FROZEN]);
    expect(text.exitCode, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/BACKUP ID\s+TYPE\s+STATUS\s+SIZE {2}STORAGE\s+STARTED \(UTC\)/);
    expect(text.stdout).toMatch(new RegExp(`${frozenBackupId}\\s+Admin\\s+OK\\s+[\\d.]+ (KiB|MiB) {2}GLACIER\\s+\\d{4}-`));
    expect(text.stdout).toContain(
      '    archived in GLACIER (4 objects): needs --thaw to be restored or verified (S3 thaws a copy: Expedited 1–5 minutes, Standard 3–5 hours, Bulk 5–12 hours)',
    );
    const json = JSON.parse((await cli(['list', FROZEN, '--json'])).stdout.trim());
    expect(json.backups[0]).toMatchObject({ backupId: frozenBackupId, storageClass: 'GLACIER', archive: { state: 'archived', objects: 4 } });
    const plain = await cli(['list', PLAIN]);
    expect(plain.stdout).toMatch(/OK\s+[\d.]+ (KiB|MiB) {2}STANDARD\s+\d{4}-/);
    expect(plain.stdout).not.toMatch(/^\s+archived in/m);
  });

  it('restore refuses it in one sentence (exit 5) before touching the target, and records the refusal', async () => {
    const before = await databases();
    const run = await cli(['restore', FROZEN, '--to', `postgresql://127.0.0.1:${dst.port}/`]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(5);
    expect(run.stderr).toBe(
      `backup-all: backup ${frozenLabel} of '${FROZEN}' is archived in GLACIER (4 of its 4 objects) and cannot be read until S3 thaws a copy: ` +
        'run the same command with --thaw [--tier Expedited|Standard|Bulk] (typically Expedited 1–5 minutes, Standard 3–5 hours, Bulk 5–12 hours; ' +
        'Standard is the default)',
    );
    expect(await databases()).toEqual(before);
    expect((await actionLog()).at(-1)).toMatchObject({ name: FROZEN, action: 'restore', description: expect.stringMatching(/^restore of 'frozen': REFUSED: backup .+ of 'frozen' is archived in GLACIER \(4 of its 4 objects\)/) });
  });

  it('--tier and --thaw-wait go with --thaw; a tier that is no tier is named', async () => {
    const lone = await cli(['restore', FROZEN, '--to', `postgresql://127.0.0.1:${dst.port}/`, '--tier', 'Bulk']);
    expect([lone.exitCode, lone.stderr]).toEqual([2, 'backup-all: --tier, --thaw-wait and --thaw-days go with --thaw']);
    const wrong = await cli(['restore', FROZEN, '--to', `postgresql://127.0.0.1:${dst.port}/`, '--thaw', '--tier', 'fast']);
    expect([wrong.exitCode, wrong.stderr]).toEqual([2, 'backup-all: --tier must be Expedited, Standard, Bulk']);
  });

  it('verify refuses it too (exit 5); with others named, they are verified and it is passed over', async () => {
    const alone = await cli(['verify', FROZEN]);
    expect(alone.exitCode, alone.stdout + alone.stderr).toBe(5);
    expect(alone.stdout).toContain(`ARCHIVED ${FROZEN}: backup ${frozenLabel} of '${FROZEN}' is archived in GLACIER (4 of its 4 objects) and cannot be read until S3 thaws a copy: run the same command with --thaw`);
    expect(alone.stdout).toContain('0 verified, 0 failed, 0 could not be verified, 1 skipped: archived');
    const both = await cli(['verify', FROZEN, PLAIN]);
    expect(both.exitCode, both.stdout + both.stderr).toBe(5);
    expect(both.stdout).toContain(`ARCHIVED ${FROZEN} ${frozenLabel}: in GLACIER, not readable without a thaw (backup-all verify ${FROZEN} --backup-id ${frozenFolderId} --thaw)`);
    expect(both.stdout).toMatch(new RegExp(`OK\\s+${PLAIN} \\S+: 2 databases`));
    expect(both.stdout).toContain('1 verified, 0 failed, 0 could not be verified, 1 skipped: archived');
    expect((await actionLog()).filter((r) => r.action === 'verify').map((r) => r.name)).toEqual([PLAIN]);
  });

  it('verify --sample picks only readable backups: the archived one is passed over for the next', async () => {
    // plain was verified above, frozen never: the rotation puts frozen first.
    const run = await cli(['verify', '--sample', '1', FROZEN, PLAIN]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`ARCHIVED ${FROZEN} ${frozenLabel}: in GLACIER, not readable without a thaw`);
    expect(run.stdout).toMatch(new RegExp(`OK\\s+${PLAIN} `));
    expect(run.stdout.indexOf(`ARCHIVED ${FROZEN}`)).toBeLessThan(run.stdout.indexOf(`OK      ${PLAIN}`));
    expect(run.stdout).toContain('1 verified, 0 failed, 0 could not be verified, 1 skipped: archived');
  });

  it('the nightly sample verifies only readable backups and says how many it skipped', async () => {
    const lines = await nightlySample(loadConfig({ ...env, BACKUP_VERIFY_SAMPLE: '1' }), summary.backups, env);
    // frozen is never verified, so the rotation would take it first.
    expect(lines[0], lines.join('\n')).toBe('Test restores (BACKUP_VERIFY_SAMPLE=1): 1 of 1 OK, 1 skipped: archived');
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^ {2}OK\\s+${PLAIN} \\S+: 2 databases`)),
      `  ARCHIVED ${FROZEN} ${frozenBackupId}: in GLACIER, not readable without a thaw (backup-all verify ${FROZEN} --backup-id ${frozenFolderId} --thaw)`,
    ]);
  });
});

describe('--thaw', () => {
  const to = () => `postgresql://127.0.0.1:${dst.port}/`;

  it('--thaw-wait 0: asks S3 for a copy of every object and exits 5 saying when to come back; nothing is restored', async () => {
    // This moto's clock for an object starts when it is written: its first look after RestoreObject must come later.
    await sleep(Math.max(0, archivedAt + (THAW_SECONDS + 1) * 1000 - Date.now()));
    const before = await databases();
    const run = await cli(['restore', FROZEN, '--to', to(), '--thaw', '--thaw-wait', '0']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(5);
    expect(run.stdout).toContain(
      `Thaw of backup ${frozenLabel} (GLACIER): asked S3 for a copy of 4 objects (Standard tier, typically 3–5 hours; the copies stay readable for 2 days)`,
    );
    expect(run.stderr).toMatch(
      new RegExp(
        `^backup-all: S3 is still thawing 4 of the 4 objects of backup ${escapeRegExp(frozenLabel)} of 'frozen' from GLACIER \\(Standard tier, typically 3–5 hours from .+ UTC\\); ` +
          'come back after about .+ UTC and run the same command again with --thaw \\(nothing is asked for twice\\)$',
      ),
    );
    expect((await headObject(s3, bucket, frozenKeys[0]!)).Restore).toBe('ongoing-request="true"');
    expect(await databases()).toEqual(before);
    expect((await actionLog()).at(-1)!.description).toMatch(/: REFUSED: S3 is still thawing 4 of the 4 objects/);
  });

  it('waits for the copies (progress as it goes), then restores as usual: the data matches', async () => {
    const run = await cli(['restore', FROZEN, '--to', to(), '--thaw']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Thaw of backup ${frozenLabel} (GLACIER): 4 objects already being thawed (Standard tier`);
    expect(run.stdout).toMatch(/ {2}waiting for S3: 0 of 4 objects readable \(.+ so far\)/);
    expect(run.stdout).toMatch(/ {2}thawed: all 4 objects readable until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(run.stdout).toContain('Restore finished');
    expect(run.stdout.indexOf('thawed: all 4')).toBeLessThan(run.stdout.indexOf('Restoring into'));
    for (const db of ['shop', 'blog']) expect(await tableFingerprint(dst, db)).toEqual(await tableFingerprint(rig.pgA, db));
    expect((await actionLog()).at(-1)!.description).toMatch(/^restore of backup .* into .*: OK, /);
  });

  it('once thawed, list says until when, and verify reads it without --thaw', async () => {
    const json = JSON.parse((await cli(['list', FROZEN, '--json'])).stdout.trim());
    expect(json.backups[0]).toMatchObject({ storageClass: 'GLACIER', archive: { state: 'thawed', objects: 4, until: expect.any(String) } });
    expect((await cli(['list', FROZEN])).stdout).toMatch(/ {4}archived in GLACIER, thawed: readable until \d{4}-/);
    const verify = await cli(['verify', FROZEN]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`OK\\s+${FROZEN} ${frozenBackupId}: 2 databases`));
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
