/**
 * Issue 12, "one configuration path for every subcommand", end to end: the CLI run as cron runs it, against the
 * real servers, with every setting in an `--env-file` and none in the process environment. Every subcommand reads
 * the file given before or after its name; TZ and the AWS SDK's credentials come from it too; a password holding
 * `#`, both quote kinds, a backslash and spaces works as the README says to write it; a line that would be cut
 * stops the run with exit code 2 naming the line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/commands/program.js';
import { adminDbName, backupsRows, createAdminDb } from './helpers/admin-db.js';
import { getRig } from './helpers/rig.js';
import { expectNoSecrets, runCli, toolEnv, type CliResult } from './helpers/run-cli.js';
import { scratchDir } from './rig/index.js';
import { startPostgres, withPgClient, type PgServer } from './rig/postgres.js';
import { createBucket, s3Client, uniqueBucketName } from './rig/s3.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);

/**
 * A run of each subcommand that exits 0 when its settings were read. A new subcommand fails the coverage test
 * below until it has one here.
 */
const RUNS: Record<string, string[]> = {
  acknowledge: ['quiet'],
  'admin-db': ['--dry-run'],
  audit: ['--json'],
  check: [],
  list: ['--admin-db'],
  restore: ['--admin-db', '--verify'],
  verify: ['--admin-db'],
};
const SUBCOMMANDS = buildProgram(() => {}).commands.map((c) => c.name());

let dir: string;
let adminDb: string;
let adminUrl: string;
/** Every setting of a run against the rig (what goes into the env files). */
let settings: Record<string, string>;
/** The process environment of the runs: no setting of the tool, no AWS credentials, no TZ. */
let bare: Record<string, string>;
/** The same with the AWS keys, for the tests of one other item alone. */
let bareWithKeys: Record<string, string>;

let files = 0;
/** A new env file holding these lines. */
async function envFile(lines: string[]): Promise<string> {
  const path = join(dir, `backup_env_${++files}`);
  await writeFile(path, `# written by env-file.test.ts\n${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}
/** KEY='value' lines (no value of the rig holds a single quote). */
const lines = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}='${v}'`);

function without(env: Record<string, string>, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));
}

function expectOk(run: CliResult): void {
  expect(run.exitCode, `${run.stderr}\n${run.stdout}`).toBe(0);
  expect(run.stderr).not.toContain('invalid configuration');
  expectNoSecrets('output', run.stdout + run.stderr);
}

beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'env-file');
  adminDb = adminDbName('envfile');
  // One container, with no backup policy (the audit passes) and nothing to acknowledge.
  adminUrl = await createAdminDb(rig.admin, adminDb, [{ name: 'quiet', engine: 'Postgres', port: rig.pgA.port, freq: 'None' }]);
  const bucket = await createBucket(s3, uniqueBucketName('envfile'));
  const env = toolEnv(rig, { adminDb, bucket, extra: { BACKUP_VERIFY_POSTGRES_URL: rig.admin.url('postgres') } });
  const { PATH, HOME: _home, TZ: _tz, ...rest } = env;
  settings = rest;
  // HOME: an empty directory, so that no ~/.aws/credentials can stand in for the file's; no instance metadata either.
  bare = { PATH: PATH!, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' };
  bareWithKeys = { ...bare, AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY! };
  // One backup for list, restore and verify to find (settings in the environment: not what is tested here).
  expectOk(await runCli(['admin-db'], env));
});

describe('--env-file before or after the subcommand', () => {
  it('every subcommand of the program has a run here', () => {
    expect(Object.keys(RUNS).sort()).toEqual([...SUBCOMMANDS].sort());
  });

  it.each(SUBCOMMANDS)('`%s` reads its settings from the file, given before or after its name', async (name) => {
    const args = RUNS[name] ?? [];
    const file = await envFile(lines(settings));
    const [before, after] = await Promise.all([runCli(['--env-file', file, name, ...args], bare), runCli([name, ...args, '--env-file', file], bare)]);
    expectOk(before);
    expectOk(after);
  });

  it('the nightly run (no subcommand) reads it', async () => {
    const run = await runCli(['--env-file', await envFile(lines(settings)), '--dry-run'], bare);
    expectOk(run);
    expect(run.stdout).toContain('Dry run: 1 backups would run');
  });

  it("the README's cron line writes the Prometheus file", async () => {
    const prom = join(dir, 'mydb_backup.prom');
    const run = await runCli(['--env-file', await envFile(lines(settings)), 'audit', '--prom', prom], bare);
    expectOk(run);
    expect(await readFile(prom, 'utf8')).toMatch(/^mydb_backup_audit_timestamp_seconds \d/m);
  });

  it('two different files before and after the subcommand are a usage error', async () => {
    const [a, b] = [await envFile(lines(settings)), await envFile(lines(settings))];
    const run = await runCli(['--env-file', a, 'check', '--env-file', b], bare);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`backup-all: --env-file is given twice (${a}, ${b}): give it once`);
  });
});

// The AWS keys are in the environment here (TZ alone is tested); the other settings in the file.
describe('TZ from the file', () => {
  /** backup_id of `date` in `timeZone`: YYYY-MM-DD_HH:MM:SS. */
  const localId = (date: Date, timeZone: string) =>
    new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .format(date)
      .replace(' ', '_');

  /** Backs up the admin DB; its backups row's backup_id must be the local time of the run in `timeZone`. */
  async function expectBackupIdIn(timeZone: string, env: Record<string, string>, file: string): Promise<void> {
    const startedBefore = new Date();
    expectOk(await runCli(['admin-db', '--env-file', file], env));
    const endedAfter = new Date();
    const id = (await backupsRows(adminUrl)).at(-1)!.backup_id;
    const [earliest, latest] = [localId(startedBefore, timeZone), localId(endedAfter, timeZone)];
    expect(earliest <= id && id <= latest, `${earliest} ≤ ${id} ≤ ${latest} (${timeZone})`).toBe(true);
  }

  it('decides the local time of the backup id (Asia/Kolkata: UTC+05:30 all year)', async () => {
    await expectBackupIdIn('Asia/Kolkata', bareWithKeys, await envFile([...lines(settings), 'TZ=Asia/Kolkata']));
  });

  it('but a TZ in the environment wins over it', async () => {
    await expectBackupIdIn('UTC', { ...bareWithKeys, TZ: 'UTC' }, await envFile([...lines(settings), 'TZ=Asia/Kolkata']));
  });
});

describe('AWS credentials from the file', () => {
  const list = async (extra: string[]) =>
    runCli(['list', '--admin-db', '--env-file', await envFile([...lines(without(settings, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY')), ...extra])], bare);

  it('without any, the S3 request fails (so the runs below prove the file was used)', async () => {
    const run = await list([]);
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout + run.stderr).toMatch(/Could not load credentials/);
  });

  it('access keys (and a session token) are used', async () => {
    const run = await list(['AWS_ACCESS_KEY_ID=AKIAFROMTHEFILE', "AWS_SECRET_ACCESS_KEY='file/secret+key'", 'AWS_SESSION_TOKEN=token-from-the-file']);
    expectOk(run);
    expectNoSecrets('output', run.stdout + run.stderr, ['file/secret+key', 'token-from-the-file']);
    expect(run.stdout).toMatch(/^Backups of _admin-db /m);
  });

  it('a profile of a shared credentials file is used', async () => {
    const credentials = join(dir, 'aws-credentials');
    await writeFile(credentials, '[backup]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n', { mode: 0o600 });
    const run = await list([`AWS_SHARED_CREDENTIALS_FILE=${credentials}`, 'AWS_PROFILE=backup']);
    expectOk(run);
    expect(run.stdout).toMatch(/^Backups of _admin-db /m);
  });
});

describe('a password holding #, both quote kinds, a backslash and leading and trailing spaces', () => {
  const PASSWORD = ` #pa'ss"wo\\rd `;
  let server: PgServer;
  let pwAdminDb: string;
  let pwAdminUrl: string;
  let pwSettings: Record<string, string>;

  beforeAll(async () => {
    // A server of its own whose admin account has that password.
    server = await startPostgres({ baseDir: dir, name: 'pg-quotes', adminPassword: PASSWORD });
    await withPgClient(server.url('postgres'), (c) => c.query('CREATE DATABASE notes'));
    await withPgClient(server.url('notes'), (c) => c.query("CREATE TABLE note (id int PRIMARY KEY, body text); INSERT INTO note VALUES (1, 'hello')"));
    pwAdminDb = adminDbName('envfile_pw');
    pwAdminUrl = await createAdminDb(rig.admin, pwAdminDb, [{ name: 'quotes', engine: 'Postgres', port: server.port }]);
    const bucket = await createBucket(s3, uniqueBucketName('envfile-pw'));
    const { PATH: _p, HOME: _h, TZ: _t, ...rest } = toolEnv(rig, { adminDb: pwAdminDb, bucket });
    pwSettings = without(rest, 'BACKUP_POSTGRES_PASSWORD');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('works written in backticks, as the README says', async () => {
    const file = await envFile([...lines(pwSettings), "BACKUP_POSTGRES_PASSWORD=` #pa'ss\"wo\\rd `"]);
    const run = await runCli(['--env-file', file, 'quotes'], bareWithKeys);
    expectOk(run);
    expectNoSecrets('output', run.stdout + run.stderr, [PASSWORD.trim()]);
    const end = (await backupsRows(pwAdminUrl)).filter((r) => r.name === 'quotes').at(-1)!;
    expect(end).toMatchObject({ state: 'end', err_msg: '' });
  });

  it('an unquoted # stops the run with exit code 2 naming the line, instead of a cut password', async () => {
    const settingLines = [...lines(pwSettings), 'BACKUP_POSTGRES_PASSWORD=abc#def'];
    const file = await envFile(settingLines);
    const before = (await backupsRows(pwAdminUrl)).length;
    const run = await runCli(['--env-file', file, 'quotes'], bareWithKeys);
    expect(run.exitCode).toBe(2);
    // +1: the file's first line is a comment.
    expect(run.stderr).toBe(`backup-all: env file ${file}, line ${settingLines.length + 1} (BACKUP_POSTGRES_PASSWORD): a # inside a value must be quoted`);
    expect(await backupsRows(pwAdminUrl)).toHaveLength(before);
  });
});
