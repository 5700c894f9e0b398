/**
 * Issue 4: never a false success. Each rule is injected for real — a dump that dies, hangs or is killed, S3 that
 * stops or throttles, PostgreSQL stopped under the run, signals, overlapping runs, bad input — and the test checks
 * S3, the backups table, the mail and the exit code. This file starts its own admin PostgreSQL and moto, so it can
 * stop them without disturbing other test files.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { getRig } from './helpers/rig.js';
import { adminDbName, backupsRows, containerSecret, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { collect, expectNoSecrets, FIXTURE_BIN, runCli, startCli, toolEnv, TOOL_SECRETS, type CliResult } from './helpers/run-cli.js';
import { descendantCmdlines, fakeBin, fakeDump, isAlive, readPids, startFaultProxy, type FaultProxy } from './helpers/faults.js';
import { createBucket, getObjectBuffer, headObject, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { encodeName } from '../src/storage/layout.js';
import { startSmtp, type SmtpSink } from './rig/smtp.js';
import { startMoto, type MotoServer } from './rig/moto.js';
import { startPostgres, type PgServer } from './rig/postgres.js';
import { freePort } from './rig/ports.js';
import { RIG_PASSWORDS, scratchDir } from './rig/index.js';
import { waitUntil } from './rig/wait.js';

const rig = getRig();
let dir: string;
let adminPg: PgServer;
let moto: MotoServer;
let proxy: FaultProxy;
let sink: SmtpSink;
let s3: ReturnType<typeof s3Client>;

beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'faults');
  [adminPg, moto, sink] = await Promise.all([
    startPostgres({ baseDir: dir, name: 'admin', adminPassword: RIG_PASSWORDS.admin }),
    startMoto({ baseDir: dir }),
    startSmtp(),
  ]);
  proxy = await startFaultProxy(moto.endpoint);
  s3 = s3Client(moto.endpoint);
});
afterAll(async () => {
  await Promise.allSettled([proxy?.stop(), sink?.stop(), moto?.stop(), adminPg?.stop()]);
});

interface Scenario {
  adminUrl: string;
  bucket: string;
  env: Record<string, string>;
}

let counter = 0;
async function scenario(containers: SeedContainer[], opts: { fake?: Record<string, string>; extra?: Record<string, string>; viaProxy?: boolean } = {}): Promise<Scenario> {
  const dbName = adminDbName(`faults${++counter}`);
  const adminUrl = await createAdminDb(adminPg, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName('faults'));
  const bin = await fakeBin(join(dir, `bin${counter}`), opts.fake ?? {});
  const env = toolEnv({ ...rig, admin: adminPg, moto: { ...rig.moto, endpoint: opts.viaProxy ? proxy.endpoint : moto.endpoint } }, {
    adminDb: dbName,
    bucket,
    smtp: sink,
    extra: { PATH: `${bin}:${FIXTURE_BIN}:${process.env.PATH}`, BACKUP_S3_PART_SIZE_MIB: '5', ...opts.extra },
  });
  sink.clear();
  return { adminUrl, bucket, env };
}

const rowsOf = (s: Scenario) => backupsRows(s.adminUrl);
const endOf = async (s: Scenario, name: string) => (await rowsOf(s)).find((r) => r.name === name && r.state === 'end');
const pg = (name: string, extra: Partial<SeedContainer> = {}): SeedContainer => ({ name, engine: 'Postgres', port: rig.pgB.port, ...extra });

/** Waits until the running CLI logged a line matching `test`. */
async function waitForLog(child: ReturnType<typeof startCli>, test: (line: Record<string, unknown>) => boolean, what: string): Promise<void> {
  let seen = '';
  child.stdout!.on('data', (d: Buffer) => {
    seen += d.toString();
  });
  await waitUntil(
    async () => seen.split('\n').some((l) => l.startsWith('{') && test(JSON.parse(l) as Record<string, unknown>)),
    30_000,
    what,
  );
}

/** No open multipart upload and no object for the container: a failure left nothing that looks like a backup. */
async function expectNothingLeft(s: Scenario, name: string): Promise<void> {
  expect(await listKeys(s3, s.bucket, `mydb/${encodeName(name)}.`)).toEqual([]);
  expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
}

describe('a dump that fails', () => {
  it('mid-stream (exit 1 after 12 MiB, error on stderr): upload aborted, ERROR row with the stderr, the next container runs', async () => {
    const s = await scenario([pg('broken'), { name: 'fine', engine: 'Postgres', port: rig.pgA.port }], {
      fake: { pg_dump: `if [ "$PGPORT" = "${rig.pgB.port}" ]; then\n${fakeDump.failAfter(12 * 1024 * 1024)}\nfi\nexec /usr/bin/pg_dump "$@"` },
      extra: { BACKUP_CONCURRENCY: '1' },
    });
    const run = await runCli(['broken', 'fine'], s.env);
    expect(run.exitCode).toBe(1);
    const end = await endOf(s, 'broken');
    expect(end!.err_msg).toMatch(/^ERROR: pg_dump exited with code 1: pg_dump: error: Dumping the contents of table "orders" failed/);
    await expectNothingLeft(s, 'broken');
    expect((await endOf(s, 'fine'))!.err_msg).toBe('');
    expect((await listKeys(s3, s.bucket, 'mydb/fine.')).length).toBeGreaterThan(1);
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.subject).toContain('FAILED: 1 of 2');
    expect(mail!.text).toContain('Dumping the contents of table');
  });

  it('a small dump (less than one part) that exits 1 leaves no object either', async () => {
    const s = await scenario([pg('tiny')], { fake: { pg_dump: fakeDump.failAfter(1000) } });
    const run = await runCli(['tiny'], s.env);
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 'tiny'))!.err_msg).toMatch(/^ERROR: pg_dump exited with code 1: /);
    await expectNothingLeft(s, 'tiny');
  });

  it('killed by a signal mid-stream: no object, the row says it was killed', async () => {
    const pids = join(dir, 'killed.pids');
    const s = await scenario([pg('victim')], { fake: { pg_dump: fakeDump.slow(pids) } });
    const child = startCli(['victim'], s.env);
    await waitUntil(async () => (await readPids(pids)).length > 0, 20_000, 'the dump to start');
    await new Promise((r) => setTimeout(r, 1500));
    process.kill((await readPids(pids))[0]!, 'SIGKILL');
    const run = collect(await child);
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 'victim'))!.err_msg).toMatch(/^ERROR: pg_dump was killed by SIGKILL/);
    await expectNothingLeft(s, 'victim');
  });

  it('a hung dump (no bytes for --stall-timeout) is killed with its children and fails', async () => {
    const pids = join(dir, 'hang.pids');
    const s = await scenario([pg('hung')], { fake: { pg_dump: fakeDump.hang(pids) } });
    const started = Date.now();
    const run = await runCli(['hung', '--stall-timeout', '2s'], s.env);
    expect(run.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await endOf(s, 'hung'))!.err_msg).toMatch(/^ERROR: pg_dump stalled: no output for \d+(\.\d)? s \(--stall-timeout\)/);
    const all = await readPids(pids);
    expect(all).toHaveLength(2);
    await waitUntil(async () => all.every((p) => !isAlive(p)), 10_000, 'the dump and its child to be gone');
    await expectNothingLeft(s, 'hung');
  });

  it('a dump still running past --timeout is killed and fails', async () => {
    const pids = join(dir, 'slow.pids');
    const s = await scenario([pg('endless')], { fake: { pg_dump: fakeDump.slow(pids) } });
    const run = await runCli(['endless', '--timeout', '3s'], s.env);
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 'endless'))!.err_msg).toMatch(/^ERROR: pg_dump timed out \(--timeout\)/);
    await waitUntil(async () => (await readPids(pids)).every((p) => !isAlive(p)), 10_000, 'the dump to be gone');
    await expectNothingLeft(s, 'endless');
  });
});

describe('S3 failures', () => {
  it('throttling and 5xx on some parts are retried by the SDK and the backup succeeds', async () => {
    // Stored as the dump writes them (no zstd): the object's size is the dump's.
    const s = await scenario([pg('retry')], { fake: { pg_dump: fakeDump.bytes(24 * 1024 * 1024) }, viaProxy: true, extra: { BACKUP_COMPRESS_POSTGRES: 'none' } });
    let failures = 0;
    proxy.fault = (req, url) => {
      if (req.method === 'PUT' && url.searchParams.get('partNumber') === '2' && failures < 3) {
        failures += 1;
        return failures === 1 ? { status: 503, code: 'SlowDown' } : { status: 500, code: 'InternalError' };
      }
      return undefined;
    };
    try {
      const run = await runCli(['retry'], s.env);
      expect(run.exitCode, run.stdout).toBe(0);
    } finally {
      proxy.fault = undefined;
    }
    expect(failures).toBe(3);
    const key = (await listKeys(s3, s.bucket, 'mydb/retry.')).find((k) => k.endsWith('.dump'))!;
    expect((await headObject(s3, s.bucket, key)).ContentLength).toBe(24 * 1024 * 1024);
  });

  it('when the retries run out the backup fails, the upload is aborted and the dump is killed', async () => {
    const pids = join(dir, 's3down.pids');
    const s = await scenario([pg('s3down')], { fake: { pg_dump: fakeDump.slow(pids) }, viaProxy: true, extra: { BACKUP_S3_PART_SIZE_MIB: '5' } });
    // Every UploadPart fails; aborting still works, so the test can see that nothing is left behind.
    proxy.fault = (req, url) => (req.method === 'PUT' && url.searchParams.has('partNumber') ? { status: 503, code: 'ServiceUnavailable' } : undefined);
    let run: CliResult;
    try {
      run = await runCli(['s3down'], s.env);
    } finally {
      proxy.fault = undefined;
    }
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 's3down'))!.err_msg).toMatch(/^ERROR: upload to s3:\/\/.*failed: ServiceUnavailable \(HTTP 503\)/);
    await waitUntil(async () => (await readPids(pids)).every((p) => !isAlive(p)), 10_000, 'the dump to be killed');
    await expectNothingLeft(s, 's3down');
  });

  it('S3 stopped mid-upload: the backup fails cleanly, the dump does not stay blocked', async () => {
    const pids = join(dir, 'motostop.pids');
    const privateMoto = await startMoto({ baseDir: dir, name: 'moto-stopped' });
    const client = s3Client(privateMoto.endpoint);
    const bucket = await createBucket(client, uniqueBucketName('stopped'));
    const s = await scenario([pg('stopped')], { fake: { pg_dump: fakeDump.slow(pids) } });
    const env = { ...s.env, AWS_ENDPOINT_URL_S3: privateMoto.endpoint, AWS_BUCKET_NAME: `s3://${bucket}/mydb` };
    const child = startCli(['stopped'], env);
    // Stopped while the database's dump streams (the globals, before it, are a few KiB).
    await waitForLog(child, (l) => l.msg === 'object uploaded' && String(l.key).endsWith('/globals.sql'), 'the globals to be stored');
    await new Promise((r) => setTimeout(r, 1500));
    await privateMoto.stop();
    const started = Date.now();
    const run = collect(await child);
    expect(run.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect((await endOf(s, 'stopped'))!.err_msg).toMatch(/^ERROR: upload to s3:\/\/.* failed: .*(ECONNREFUSED|connect)/);
    await waitUntil(async () => (await readPids(pids)).every((p) => !isAlive(p)), 10_000, 'the dump to be killed');
    client.destroy();
  });

  it('a bucket that refuses server-side encryption fails the backup with the S3 error', async () => {
    const s = await scenario([pg('nosse')], { viaProxy: true });
    proxy.fault = (req) => (req.headers['x-amz-server-side-encryption'] ? { status: 403, code: 'AccessDenied' } : undefined);
    try {
      const run = await runCli(['nosse'], s.env);
      expect(run.exitCode).toBe(1);
      const check = await runCli(['check'], s.env);
      expect(check.exitCode).toBe(1);
      expect(check.stdout).toMatch(/FAIL {2}bucket .*AccessDenied \(HTTP 403\)/);
    } finally {
      proxy.fault = undefined;
    }
    expect((await endOf(s, 'nosse'))!.err_msg).toMatch(/^ERROR: upload to s3:\/\/.* failed: AccessDenied \(HTTP 403\)/);
    await expectNothingLeft(s, 'nosse');
  });

  it('an object stored without the asked-for encryption fails verification and is deleted', async () => {
    const s = await scenario([pg('plain')], { viaProxy: true });
    // A store that silently ignores the SSE header: the HeadObject check must catch it.
    proxy.fault = (req) => {
      delete req.headers['x-amz-server-side-encryption'];
      return undefined;
    };
    try {
      expect((await runCli(['plain'], s.env)).exitCode).toBe(1);
    } finally {
      proxy.fault = undefined;
    }
    expect((await endOf(s, 'plain'))!.err_msg).toMatch(/failed verification: server-side encryption is 'none', not 'AES256'/);
    await expectNothingLeft(s, 'plain');
  });

  it('an object stored whose check (HeadObject) then fails: the backup fails and removes it with the rest of its folder', async () => {
    const s = await scenario([pg('unchecked')], { viaProxy: true });
    proxy.fault = (req, url) => (req.method === 'HEAD' && url.pathname.endsWith('.dump.zst') ? { status: 403, code: 'AccessDenied' } : undefined);
    try {
      expect((await runCli(['unchecked'], s.env)).exitCode).toBe(1);
    } finally {
      proxy.fault = undefined;
    }
    expect((await endOf(s, 'unchecked'))!.err_msg).toMatch(/^ERROR: checking the stored object s3:\/\/\S+\.dump\.zst failed: /);
    await expectNothingLeft(s, 'unchecked');
  });

  it.each([
    ['PutObject', 'globals.sql'],
    ['CompleteMultipartUpload', '.dump'],
    ['PutObject', 'manifest.json'],
  ])('the answer to the %s of %s lost after S3 stored it: the SDK retry (which S3 refuses under If-None-Match, for a PutObject) is seen to hold the same bytes, the backup is whole', async (_op, suffix) => {
    const s = await scenario([pg('lostanswer')], { fake: { pg_dump: fakeDump.bytes(12 * 1024 * 1024) }, viaProxy: true, extra: { BACKUP_COMPRESS_POSTGRES: 'none' } });
    let dropped = 0;
    proxy.fault = (req, url) =>
      (req.method === 'PUT' || req.method === 'POST') && url.pathname.endsWith(suffix!) && !url.searchParams.has('partNumber') && !url.searchParams.has('uploads') && dropped === 0
        ? { holdAnswer: async () => ((dropped += 1), 'drop' as const) }
        : undefined;
    let run: CliResult;
    try {
      run = await runCli(['lostanswer'], s.env);
    } finally {
      proxy.fault = undefined;
    }
    expect(dropped).toBe(1);
    expect(run.exitCode, run.stdout).toBe(0);
    expect((await endOf(s, 'lostanswer'))!.err_msg).toBe('');
    const keys = await listKeys(s3, s.bucket, 'mydb/lostanswer.');
    const manifestKey = keys.find((k) => k.endsWith('/manifest.json'))!;
    const manifest = JSON.parse((await getObjectBuffer(s3, s.bucket, manifestKey)).toString()) as { objects: { name: string; bytes: number; sha256: string }[] };
    expect(manifest.objects.map((o) => o.name).sort()).toEqual(['globals.sql', 'inventory.dump']);
    for (const o of manifest.objects) {
      const data = await getObjectBuffer(s3, s.bucket, manifestKey.replace(/manifest\.json$/, o.name));
      expect(createHash('sha256').update(data).digest('hex'), o.name).toBe(o.sha256);
    }
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
  });

  it('a stream of unknown length never hits the part limit: parts grow (forced BACKUP_S3_MAX_PARTS=4)', async () => {
    const size = 60 * 1024 * 1024;
    const s = await scenario([pg('growing')], { fake: { pg_dump: fakeDump.bytes(size) }, extra: { BACKUP_S3_MAX_PARTS: '4', BACKUP_COMPRESS_POSTGRES: 'none' } });
    const run = await runCli(['growing'], s.env);
    expect(run.exitCode, run.stdout).toBe(0);
    const uploaded = run.logs.find((l) => l.msg === 'object uploaded' && String(l.key).endsWith('.dump'))!;
    // Fixed 5 MiB parts would need 12; the schedule 5, 10, 20, 40 MiB needs 4.
    expect(uploaded).toMatchObject({ bytes: size, parts: 4 });
    const key = String(uploaded.key);
    expect((await headObject(s3, s.bucket, key)).ContentLength).toBe(size);
    // The parts' CRC32s, declared at creation, are the object's checksum (S3 checks them again at completion).
    const head = await s3.send(new HeadObjectCommand({ Bucket: s.bucket, Key: key, ChecksumMode: 'ENABLED' }));
    // (moto answers HEAD with the composite's value only, without its type or part count; undeclared, it has none.)
    expect(head.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==(-4)?$/);
  });

  it('a dump bigger than the part limit allows fails early and clearly, before S3 refuses', async () => {
    const s = await scenario([pg('toobig')], { fake: { pg_dump: fakeDump.bytes(80 * 1024 * 1024) }, extra: { BACKUP_S3_MAX_PARTS: '4' } });
    const run = await runCli(['toobig'], s.env);
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 'toobig'))!.err_msg).toMatch(/^ERROR: upload to .* failed: .*the dump is larger than 75\.0 MiB, the most that fits in 4 parts/);
    await expectNothingLeft(s, 'toobig');
  });
});

describe('the admin database and SMTP', () => {
  it('admin DB unreachable at start: exit 3, a clear message on stderr, a mail saying the run could not start', async () => {
    const s = await scenario([pg('any')]);
    const dead = await freePort();
    const env = { ...s.env, SQLALCHEMY_ADMIN_URI: `postgresql://pgdba:${encodeURIComponent(RIG_PASSWORDS.admin)}@127.0.0.1:${dead}/nothing` };
    const run = await runCli([], env);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/^backup-all: could not start: cannot reach the admin database: .*ECONNREFUSED/);
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.subject).toContain('COULD NOT START');
    expect(mail!.text).toContain('cannot reach the admin database');
    expectNoSecrets('stderr', run.stderr);
    expectNoSecrets('mail', mail!.raw);
  });

  it('admin DB lost during the run: the backup in flight finishes, its row is logged as JSON, exit non-zero', async () => {
    const pids = join(dir, 'lost.pids');
    // A dump that takes ~4 s: long enough to stop PostgreSQL under it.
    const s = await scenario([pg('inflight')], { fake: { pg_dump: `echo $$ >> ${pids}\nfor i in $(seq 20); do head -c 65536 /dev/urandom; sleep 0.2; done` } });
    const child = startCli(['inflight'], s.env);
    await waitUntil(async () => (await readPids(pids)).length > 0, 20_000, 'the dump to start');
    await adminPg.stop();
    let run: CliResult;
    try {
      run = collect(await child);
    } finally {
      await adminPg.start();
    }
    expect(run.exitCode).not.toBe(0);
    const unrecorded = run.logs.filter((l) => l.msg === 'could not write a backups row');
    expect(unrecorded).toHaveLength(1);
    expect(unrecorded[0]!.unrecordedBackupsRow).toMatchObject({ name: 'inflight', state: 'end', errMsg: '' });
    // The backup itself completed: the object is there, encrypted.
    const keys = await listKeys(s3, s.bucket, 'mydb/inflight.');
    expect(keys.some((k) => k.endsWith('.dump.zst'))).toBe(true);
    const rows = await rowsOf(s);
    expect(rows.map((r) => r.state)).toEqual(['start']);
  });

  it('SMTP unreachable: backups unchanged, the failure to mail logged, exit code 4', async () => {
    const s = await scenario([pg('mailless')]);
    const run = await runCli(['mailless'], { ...s.env, SMTP_PORT: String(await freePort()) });
    expect(run.exitCode).toBe(4);
    expect((await endOf(s, 'mailless'))!.err_msg).toBe('');
    expect(run.logs.find((l) => l.msg === 'could not send the summary mail')).toBeDefined();
  });
});

describe('signals and overlapping runs', () => {
  it('SIGTERM: no new backups, the in-flight upload is aborted, its end row says interrupted, exit non-zero within seconds', async () => {
    const pids = join(dir, 'term.pids');
    const s = await scenario([pg('first'), pg('second')], { fake: { pg_dump: fakeDump.slow(pids) }, extra: { BACKUP_CONCURRENCY: '1' } });
    const child = startCli(['first', 'second'], s.env);
    await waitForLog(child, (l) => l.msg === 'progress', 'the first dump to make progress');
    const sent = Date.now();
    child.kill('SIGTERM');
    const run = collect(await child);
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(run.exitCode).toBe(1);
    const rows = await rowsOf(s);
    expect(rows.map((r) => `${r.name}:${r.state}:${r.err_msg}`)).toEqual(['first:start:', 'first:end:ERROR: interrupted']);
    await expectNothingLeft(s, 'first');
    await waitUntil(async () => (await readPids(pids)).every((p) => !isAlive(p)), 10_000, 'the dump to be killed');
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.subject).toContain('INTERRUPTED');
  });

  it('SIGTERM while the write that creates an object is in flight: it is waited for, and the interrupted backup removes the object', async () => {
    const s = await scenario([pg('midput')], { fake: { pg_dump: fakeDump.slow(join(dir, 'midput.pids')) }, viaProxy: true });
    const child = startCli(['midput'], s.env);
    let stored = false;
    // S3 has stored globals.sql; its answer reaches the tool only after the SIGTERM.
    proxy.fault = (req, url) =>
      req.method === 'PUT' && url.pathname.endsWith('/globals.sql')
        ? {
            holdAnswer: async () => {
              stored = true;
              child.kill('SIGTERM');
              await new Promise((r) => setTimeout(r, 500));
            },
          }
        : undefined;
    let run: CliResult;
    try {
      run = collect(await child);
    } finally {
      proxy.fault = undefined;
    }
    expect(stored).toBe(true);
    expect(run.exitCode).toBe(1);
    expect((await endOf(s, 'midput'))!.err_msg).toBe('ERROR: interrupted');
    await expectNothingLeft(s, 'midput');
  });

  it('a second run of the same kind exits 3 and says who holds the lock', async () => {
    const pids = join(dir, 'lock.pids');
    const s = await scenario([pg('locked')], { fake: { pg_dump: fakeDump.slow(pids) } });
    const first = startCli([], s.env);
    await waitForLog(first, (l) => l.msg === 'backup started', 'the first run to start');
    const second = await runCli([], s.env);
    first.kill('SIGTERM');
    await first;
    expect(second.exitCode).toBe(3);
    expect(second.stderr).toMatch(/could not start: another nightly run holds the lock: mydb-backup nightly host=\S+ pid=\d+ from 127\.0\.0\.1/);
  });

  it('workers on several hosts divide the fleet: every container is backed up exactly once', async () => {
    const names = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
    const s = await scenario(names.map((n) => pg(n)), { extra: { BACKUP_CONCURRENCY: '2' } });
    const workers = await Promise.all([1, 2, 3].map(() => startCli(['--worker'], s.env).then(collect)));
    expect(workers.map((w) => w.exitCode)).toEqual([0, 0, 0]);
    const rows = await rowsOf(s);
    for (const name of [...names, '_admin-db']) {
      expect(rows.filter((r) => r.name === name).map((r) => r.state), name).toEqual(['start', 'end']);
    }
    const done = workers.flatMap((w) => w.logs.filter((l) => String(l.msg).startsWith('backup done')).map((l) => l.container));
    expect(done.sort()).toEqual(['_admin-db', ...names].sort());
  });
});

describe('bad input', () => {
  it('bad env values: exit 2 with a message naming each variable, nothing touched', async () => {
    const s = await scenario([pg('untouched')]);
    const run = await runCli([], { ...s.env, BACKUP_CONCURRENCY: 'lots', BACKUP_SSE: 'rot13' });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("BACKUP_CONCURRENCY expected a whole number from 1 to 64, got 'lots'");
    expect(run.stderr).toContain('BACKUP_SSE expected AES256 or aws:kms');
    expect(await rowsOf(s)).toEqual([]);
  });

  it('broken containers fail alone with clear errors; odd names stay under the prefix', async () => {
    const s = await scenario([
      pg('good'),
      { name: 'oracle', engine: 'Oracle', port: rig.pgB.port },
      { name: 'noport', engine: 'Postgres', port: null },
      { name: 'oddport', engine: 'Postgres', port: 'thirty-two' },
      { name: 'badjson', engine: 'Postgres', port: 1, rawData: { Info: 'not an object' } },
      pg('../../escape'),
      pg('a/b c'),
      pg('ünïcødé ☃'),
    ]);
    const run = await runCli([], s.env);
    expect(run.exitCode).toBe(1);
    const ends = Object.fromEntries((await rowsOf(s)).filter((r) => r.state === 'end').map((r) => [r.name, r.err_msg]));
    expect(ends).toMatchObject({
      good: '',
      oracle: "ERROR: container oracle: unknown dbengine 'Oracle' (expected Postgres, MariaDB or MongoDB)",
      noport: 'ERROR: container noport: Info.Port is missing',
      oddport: 'ERROR: container oddport: Info.Port is not a number',
      badjson: "ERROR: container badjson: containers.data has no 'Info' object",
      '../../escape': '',
      'a/b c': '',
      'ünïcødé ☃': '',
    });
    const keys = await listKeys(s3, s.bucket, '');
    for (const key of keys) {
      expect(key.startsWith('mydb/')).toBe(true);
      // prefix / name.id / folder / object: exactly four segments, none of them '..'.
      expect(key.split('/')).toHaveLength(4);
      expect(key.split('/')).not.toContain('..');
    }
    const folders = new Set(keys.map((k) => k.split('/')[1]));
    // Each container's own folder, its name readable (encoded where it must be) and its id.
    expect([...folders].sort()).toEqual(['=2E.=2F..=2Fescape.6', '=C3=BCn=C3=AFc=C3=B8d=C3=A9=20=E2=98=83.8', '_admin-db', 'a=2Fb=20c.7', 'good.1']);
  });
});

describe('secrets', () => {
  it('no password in any log line, row, mail, or child command line (/proc/PID/cmdline during the run)', async () => {
    const s = await scenario([
      { name: 'pgsecret', engine: 'Postgres', port: rig.pgA.port },
      { name: 'mariasecret', engine: 'MariaDB', port: rig.maria.port },
      { name: 'broken', engine: 'Postgres', port: await freePort() },
    ], {
      extra: { BACKUP_CONCURRENCY: '3' },
      // The real tools, held for a second first, so the /proc poll surely sees each one's argv.
      fake: { pg_dump: 'sleep 1; exec /usr/bin/pg_dump "$@"', 'mariadb-dump': 'sleep 1; exec /usr/bin/mariadb-dump "$@"' },
    });
    const child = startCli([], s.env);
    const cmdlines = new Set<string>();
    const poll = setInterval(() => descendantCmdlines(child.pid!).forEach((c) => cmdlines.add(c)), 20);
    const run = collect(await child);
    clearInterval(poll);
    expect(run.exitCode).toBe(1);
    // The poll really saw the dumps run.
    const seen = [...cmdlines].join("\n");
    expect(seen).toContain('pg_dump');
    expect(seen).toContain('mariadb-dump');
    const secrets = [...TOOL_SECRETS, containerSecret('pgsecret'), containerSecret('mariasecret')];
    expectNoSecrets('child argv', seen, secrets);
    expectNoSecrets('stdout', run.stdout, secrets);
    expectNoSecrets('stderr', run.stderr, secrets);
    expectNoSecrets('rows', JSON.stringify(await rowsOf(s)), secrets);
    const [mail] = await sink.waitForMessages(1);
    expectNoSecrets('mail', mail!.raw, secrets);
  });
});
