/**
 * Issue 12: nothing a dead process leaves goes unseen. A backup killed with -9 mid-upload leaves a start row without
 * an end, an object, an open multipart upload and a temporary directory: `audit` and `check` say so, and the next run
 * closes the row as abandoned (a failure), removes the rest and says what it removed. Workers sharing a night finish
 * the work of one that is killed, the admin DB's own backup included.
 */
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { adminDbName, backupsRows, createAdminDb, type SeedContainer } from './helpers/admin-db.js';
import { fakeBin, isAlive, readPids } from './helpers/faults.js';
import { getRig } from './helpers/rig.js';
import { collect, runCli, startCli, toolEnv } from './helpers/run-cli.js';
import { scratchDir } from './rig/index.js';
import { withPgClient } from './rig/postgres.js';
import { createBucket, listKeys, listMultipartUploads, s3Client, uniqueBucketName } from './rig/s3.js';
import { startSmtp, type SmtpSink } from './rig/smtp.js';
import { waitUntil } from './rig/wait.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
let dir: string;
let sink: SmtpSink;

beforeAll(async () => {
  dir = await scratchDir(rig.baseDir, 'leftovers');
  sink = await startSmtp();
});
afterAll(async () => {
  await sink?.stop();
});

async function scenario(hint: string, containers: SeedContainer[], extra: Record<string, string> = {}) {
  const dbName = adminDbName(hint);
  const adminUrl = await createAdminDb(rig.admin, dbName, containers);
  const bucket = await createBucket(s3, uniqueBucketName(hint));
  return { adminUrl, bucket, env: toolEnv(rig, { adminDb: dbName, bucket, smtp: sink, extra: { BACKUP_S3_PART_SIZE_MIB: '5', ...extra } }) };
}

const tempDirsOf = async (pid: number) => (await readdir(tmpdir())).filter((d) => d.startsWith(`mydb-backup-${pid}-`));

describe('a backup killed with -9 mid-upload', () => {
  it('is seen by audit and check, and the next run closes it as abandoned and removes what it left', async () => {
    const pids = join(dir, 'killed.pids');
    // 12 MiB (two 5 MiB parts uploaded: a multipart upload is open), then it hangs. Not through zstd: zstd -T0 holds
    // back the output of jobs that finish after its input stalls (6.5 to 8 MiB of these 12 came out, less on a busy
    // machine), so the parts might never fill.
    const bin = await fakeBin(join(dir, 'bin-hang'), { pg_dump: `echo $$ >> ${pids}\nhead -c ${12 * 1024 * 1024} /dev/urandom\nexec sleep 600` });
    const s = await scenario('killed', [{ name: 'victim', engine: 'Postgres', port: rig.pgB.port }], { BACKUP_COMPRESS_POSTGRES: 'none' });
    const child = startCli(['victim'], { ...s.env, PATH: `${bin}:${s.env.PATH}` });
    await waitUntil(async () => (await listMultipartUploads(s3, s.bucket)).length > 0, 60_000, 'the upload to be open');
    const killedPid = child.pid!;
    child.kill('SIGKILL');
    await child.catch(() => {});
    for (const pid of await readPids(pids)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');

    // What the dead process left.
    expect((await backupsRows(s.adminUrl)).map((r) => r.state)).toEqual(['start']);
    const left = await listKeys(s3, s.bucket, 'mydb/victim.1/');
    expect(left.map((k) => k.split('/').pop())).toEqual(['globals.sql']);
    expect(await tempDirsOf(killedPid)).toHaveLength(1);

    const audit = await runCli(['audit', '--json'], s.env);
    const status = JSON.parse(audit.stdout).containers[0];
    expect(status).toMatchObject({ name: 'victim', status: 'Abandoned', ok: false });
    expect(audit.exitCode).toBe(1);
    const check = await runCli(['check'], s.env);
    expect(check.stdout).toMatch(/WARN {2}backup \S+ of victim \(started [^)]+\) has no end row and no process is backing victim up: its process died/);
    expect(check.stdout).toMatch(/WARN {2}1 incomplete multipart upload under s3:\/\/\S+\/mydb\/ \(oldest started [^)]+\): the next run aborts/);

    sink.clear();
    const next = await runCli(['victim', '--json'], s.env);
    const result = JSON.parse(next.stdout.trim().split('\n').pop()!);
    // The new backup is fine; the dead one counts as a failure of this run.
    expect(result.backups).toMatchObject([{ name: 'victim', ok: true }]);
    expect(result.abandoned).toMatchObject([{ name: 'victim' }]);
    expect(result.ok).toBe(false);
    expect(next.exitCode).toBe(1);
    expect(result.cleanup.removed).toEqual(
      expect.arrayContaining([expect.stringMatching(/^multipart upload \S+ of s3:\/\/\S+\/mydb\/victim\.1\/[^/]+\/inventory\.dump$/), `s3://${s.bucket}/${left[0]}`]),
    );
    expect(await listMultipartUploads(s3, s.bucket)).toEqual([]);
    expect(await listKeys(s3, s.bucket, left[0]!.split('/').slice(0, 3).join('/'))).toEqual([]);
    expect(await tempDirsOf(killedPid)).toEqual([]);
    const rows = (await backupsRows(s.adminUrl)).map((r) => `${r.state} ${r.err_msg.split(':')[0]}`);
    expect(rows).toEqual(['start ', 'end ERROR', 'start ', 'end ']);
    expect((await backupsRows(s.adminUrl))[1]!.err_msg).toMatch(/^ERROR: abandoned: the process that started this backup at \S+ stopped before it ended/);
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.text).toMatch(/ABANDONED \(the process that started these died; their end rows say so now\)\n  victim \(Admin, /);
    expect(mail!.text).toMatch(/LEFTOVERS OF EARLIER RUNS\n  removed \d+: /);
    // Audit agrees: the newest backup is good.
    expect(JSON.parse((await runCli(['audit', '--json'], s.env)).stdout).containers[0].status).toBe('Good');
  });
});

describe('workers sharing a night', () => {
  it('a backup that a dead worker abandoned earlier tonight does not count as done: the next worker backs the container up', async () => {
    const s = await scenario('reclaim', [{ name: 'orphan', engine: 'Postgres', port: rig.pgB.port }]);
    // What a worker killed earlier in tonight's run leaves once another worker has closed it: a start row and an
    // abandoned end row, with a backup_id of today (the tests' TZ is UTC).
    const backupId = `${new Date().toISOString().slice(0, 10)}_00:00:01`;
    const url = `s3://${s.bucket}/mydb/orphan.1/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}T000001.000Z-0000aa/globals.sql`;
    await withPgClient(s.adminUrl, async (c) => {
      for (const [state, errMsg] of [['start', ''], ['end', 'ERROR: abandoned: the process that started this backup stopped before it ended']]) {
        await c.query(
          `INSERT INTO backups (c_id, name, state, backup_id, backup_type, url, command, err_msg, ts)
           VALUES (1, 'orphan', $1, $2, 'Daily', $3, 'pg_dump', $4, now() AT TIME ZONE 'UTC')`,
          [state, backupId, url, errMsg],
        );
      }
    });
    const run = await runCli(['--worker', '--json'], s.env);
    const summary = JSON.parse(run.stdout.trim().split('\n').pop()!) as { backups: { name: string; ok: boolean }[] };
    expect(summary.backups.filter((b) => b.name === 'orphan'), run.stderr).toEqual([expect.objectContaining({ ok: true })]);
    const ends = (await backupsRows(s.adminUrl)).filter((r) => r.name === 'orphan' && r.state === 'end');
    expect(ends.map((r) => r.err_msg.slice(0, 17))).toEqual(['ERROR: abandoned:', '']);
  });

  it('finish the work of a worker killed with -9 while it held two containers, the admin DB\'s own backup among them', async () => {
    const names = ['w1', 'w2', 'w3', 'w4'];
    // Each dump takes a few seconds: long enough to kill a worker in the middle of two.
    const bin = await fakeBin(join(dir, 'bin-slow'), { pg_dump: 'sleep 4\nexec /usr/bin/pg_dump "$@"' });
    const s = await scenario('workers', names.map((name) => ({ name, engine: 'Postgres', port: rig.pgB.port })), {
      BACKUP_CONCURRENCY: '2',
      BACKUP_CLAIM_WAIT: '90s',
    });
    const env = { ...s.env, PATH: `${bin}:${s.env.PATH}` };
    const workers = [1, 2, 3].map(() => startCli(['--worker', '--json'], env));
    const logs = workers.map((w) => {
      let seen = '';
      w.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
      });
      return () => seen.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    });
    // The worker that started the admin DB's backup, once it has two backups in flight.
    const started = (i: number) => logs[i]!().filter((l) => l.msg === 'backup started').map((l) => l.container);
    let victim = -1;
    await waitUntil(
      async () => {
        victim = [0, 1, 2].find((i) => started(i).includes('_admin-db') && started(i).length >= 2) ?? -1;
        return victim >= 0;
      },
      60_000,
      'a worker to hold the admin DB and another container',
    );
    const held = started(victim);
    workers[victim]!.kill('SIGKILL');
    const survivors = await Promise.all(workers.filter((_, i) => i !== victim).map(async (w) => collect(await w)));
    await workers[victim]!.catch(() => {});

    const rows = await backupsRows(s.adminUrl);
    for (const name of ['_admin-db', ...names]) {
      const ends = rows.filter((r) => r.name === name && r.state === 'end');
      // Every due container ends the night backed up; what the dead worker held also has its abandoned row.
      expect(ends.filter((r) => r.err_msg === ''), name).toHaveLength(1);
      expect(ends.filter((r) => r.err_msg !== '').map((r) => r.err_msg.slice(0, 17)), name).toEqual(held.includes(name) ? ['ERROR: abandoned:'] : []);
    }
    // The abandoned ones are counted as failures by the survivor that found them.
    const results = survivors.map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!) as { abandoned: { name: string }[] });
    expect(results.flatMap((r) => r.abandoned.map((a) => a.name)).sort()).toEqual([...held].sort());
    expect(survivors.some((r) => r.exitCode === 1)).toBe(true);
  });
});
