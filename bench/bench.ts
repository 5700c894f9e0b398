/**
 * `npm run bench` (= npm run build && tsx bench/bench.ts): throughput and memory of a backup and of a restore, side by
 * side with the limit and with the old shell pipeline, on throwaway local servers (the test rig: PostgreSQL, MariaDB,
 * moto S3 on 127.0.0.1; nothing leaves the machine). Results: BENCHMARKS.md.
 *
 *   A0   pg_dump -Fc -Z0 DB > /dev/null             the true limit: the dump without its compression (PostgreSQL)
 *   A    pg_dump -Fc DB > /dev/null                 the dump alone
 *   B    pg_dump -Fc DB | aws s3 cp - s3://…        the old tool's way, on each S3 server
 *   C    backup-all NAME                            this tool, on each S3 server
 *   R_B  aws s3 cp s3://… - | pg_restore            B's object back into an empty database (moto only)
 *   R_C  backup-all restore NAME --to …             C's backup back into an empty database, SHA-256 checks on (moto only)
 * on each generated data set (random, application-shaped, pgbench's), the same for mariadb-dump (C with compression
 * none, gzip and zstd), then a fleet of small containers at several --concurrency values. Figures are medians of
 * --runs runs in one session; peak RSS is the uploader's (aws for B, node for C) from GNU time. Scenarios in
 * scenarios/, data generators in data/.
 *
 * Options:
 *   --size-gib N       size of each generated data set (default 1): PostgreSQL's pg_dump -Fc -Z0, except random's
 *                      pg_dump -Fc (as in the earlier figures; base64 text, so its -Z0 is 4/3 of that); MariaDB's SQL
 *   --runs N           runs per figure (default 3)
 *   --fleet N          containers in the fleet run (default 50)
 *   --concurrency LIST fleet concurrencies (default 1,2,4,8)
 *   --only LIST        some of: pg, maria, fleet, restore (default all; restore: the R_* rows of pg and maria)
 *   --pg-data LIST     PostgreSQL data sets, some of: random (base64 of random bytes), app (an online shop), pgbench
 *                      (pgbench -i) (default all)
 *   --maria-data LIST  MariaDB data sets, some of: events (the earlier table), app (the same shop) (default all)
 *   --sweep            also sweep BACKUP_S3_PART_SIZE_MIB × BACKUP_S3_QUEUE_SIZE for C (MariaDB, no compression)
 *   --json FILE        also write every figure as JSON
 *   --bin PATH         run this build of the CLI for C (e.g. a checkout of an older commit), default bin/backup-all
 *   --s3 LIST          the S3 servers, side by side (default moto,null): moto, and/or bench/null-s3.mjs, which answers
 *                      like S3 but keeps no data: for dumps bigger than moto can hold (it assembles an object in memory
 *                      ~4 times over), and to see the uploaders without the emulator's CPU. Restores need moto.
 *                      The fleet and the sweep use the first.
 *   --env K=V,...      extra settings for every C run (e.g. BACKUP_S3_CHECKSUM=WHEN_REQUIRED), to measure what a setting costs
 *   --quick            CI smoke: 32 MiB data sets, 1 run, a fleet of 10 (test/bench.test.ts runs it smaller still)
 * Not a test: vitest runs it only as that smoke run, and asserts no figure.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAdminDb, type SeedContainer } from '../test/helpers/admin-db.js';
import { RIG_PASSWORDS, startMariadb, startPostgres, startRig, type MariaServer, type PgServer } from '../test/rig/index.js';
import { BenchContext, DEFAULT_BIN, BUCKET, note, say } from './context.js';
import { requireGnuTime } from './measure.js';
import { Report } from './report.js';
import { Runner } from './runner.js';
import { S3_KINDS, startS3Server, type S3Kind, type S3Server } from './s3-servers.js';
import { AwsCli, findAws } from './shell.js';
import { fleetBench } from './scenarios/fleet.js';
import { MARIA_CONTAINER, MARIA_DATASETS, mariadbBench, type MariaDataset } from './scenarios/mariadb.js';
import { PG_CONTAINER, PG_DATASETS, postgresBench, type PgDataset } from './scenarios/postgres.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** What --only chooses from. */
const PARTS = ['pg', 'maria', 'fleet', 'restore'] as const;

// ------------------------------------------------------------------------------------------------ options

interface Options {
  dumpBytes: number;
  runs: number;
  fleet: number;
  concurrency: number[];
  only: Set<string>;
  sweep: boolean;
  json?: string;
  bin: string;
  /** The S3 servers, side by side; the fleet and the sweep use the first. */
  s3: S3Kind[];
  /** Extra environment for C. */
  env: Record<string, string>;
  quick: boolean;
  pgData: PgDataset[];
  mariaData: MariaDataset[];
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-gib': { type: 'string' },
      runs: { type: 'string' },
      fleet: { type: 'string' },
      concurrency: { type: 'string' },
      only: { type: 'string' },
      sweep: { type: 'boolean' },
      json: { type: 'string' },
      bin: { type: 'string' },
      s3: { type: 'string' },
      quick: { type: 'boolean' },
      env: { type: 'string' },
      'pg-data': { type: 'string' },
      'maria-data': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const number = (v: string | undefined, fallback: number, name: string) => {
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number`);
    return n;
  };
  return {
    dumpBytes: quick && values['size-gib'] === undefined ? 32 * MIB : number(values['size-gib'], 1, 'size-gib') * GIB,
    runs: Math.round(number(values.runs, quick ? 1 : 3, 'runs')),
    fleet: Math.round(number(values.fleet, quick ? 10 : 50, 'fleet')),
    concurrency: (values.concurrency ?? '1,2,4,8').split(',').map((c) => Math.round(number(c, 1, 'concurrency'))),
    only: new Set(list('only', values.only, PARTS)),
    sweep: values.sweep ?? false,
    ...(values.json ? { json: values.json } : {}),
    bin: values.bin ?? DEFAULT_BIN,
    env: Object.fromEntries(
      (values.env ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
    s3: list('s3', values.s3, S3_KINDS),
    quick,
    pgData: list('pg-data', values['pg-data'], PG_DATASETS),
    mariaData: list('maria-data', values['maria-data'], MARIA_DATASETS),
  };
}

/** A comma-separated option whose items must be among `allowed`; all of them when not given. */
function list<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] {
  if (value === undefined) return [...allowed];
  const items = [...new Set(value.split(',').map((s) => s.trim()))];
  const wrong = items.filter((item) => !allowed.includes(item as T));
  if (wrong.length || !items.length) throw new Error(`--${name} expects some of ${allowed.join(', ')}, not '${value}'`);
  return items as T[];
}

/** Samples, every 5 s, whether other test runs (vitest) share the machine: they skew every figure. */
function watchOtherLoad(): { stop(): string } {
  let samples = 0;
  let busy = 0;
  const loads: number[] = [];
  const timer = setInterval(() => {
    samples += 1;
    try {
      loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
      const vitest = readdirSync('/proc').some((pid) => {
        if (!/^\d+$/.test(pid)) return false;
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('vitest');
        } catch {
          return false;
        }
      });
      if (vitest) busy += 1;
    } catch {
      /* not Linux */
    }
  }, 5000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const maxLoad = loads.length ? Math.max(...loads).toFixed(2) : '?';
      return `other test runs (vitest) seen in ${busy} of ${samples} samples (every 5 s); 1-min load average peaked at ${maxLoad}`;
    },
  };
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const mem = `${(totalmem() / GIB).toFixed(1)} GiB RAM (${(freemem() / GIB).toFixed(1)} GiB free)`;
  let load = '';
  try {
    load = `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
  } catch {
    /* not Linux */
  }
  return `${cpus().length} × ${cpu}, ${mem}, ${load}, node ${process.version}`;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const opts = options(process.argv.slice(2));
  requireGnuTime();
  const awsProgram = await findAws();
  if (!awsProgram) note('aws CLI not found: the B and R_B rows (the old pipeline) are left out');
  const started = Date.now();
  const load = watchOtherLoad();
  note('starting the rig (PostgreSQL, MariaDB, moto on 127.0.0.1)');
  const rig = await startRig();
  const dir = await mkdtemp(join(tmpdir(), 'mydb-bench-'));
  const servers: S3Server[] = [];
  let big: PgServer | undefined;
  let mariaRestore: MariaServer | undefined;
  try {
    // The big database gets a server of its own, so the container's backup is that database (plus the globals).
    big = await startPostgres({ baseDir: rig.baseDir, name: 'pgbench', adminPassword: RIG_PASSWORDS.pg });
    const fleetNames = Array.from({ length: opts.fleet }, (_, i) => `fleet-${String(i + 1).padStart(2, '0')}`);
    const containers: SeedContainer[] = [
      { name: PG_CONTAINER, engine: 'Postgres', port: big.port },
      { name: MARIA_CONTAINER, engine: 'MariaDB', port: rig.maria.port },
      ...fleetNames.map((name): SeedContainer => ({ name, engine: 'Postgres', port: rig.pgB.port })),
    ];
    const adminDb = 'mydb_bench_admin';
    await createAdminDb(rig.admin, adminDb, containers);
    for (const kind of opts.s3) servers.push(await startS3Server(kind, rig, BUCKET));

    const restores = opts.only.has('restore');
    const report = new Report(servers[0]!.name, opts.fleet);
    if (restores && !servers.some((s) => s.keepsData)) report.notes.push('no restores (R_B, R_C): they need an S3 server that keeps data (--s3 moto)');
    // MariaDB's dump holds the whole server: its restores go into a second, empty server.
    if (restores && opts.only.has('maria') && servers.some((s) => s.keepsData)) {
      mariaRestore = await startMariadb({ baseDir: rig.baseDir, rootPassword: RIG_PASSWORDS.maria, name: 'maria-restore' });
    }
    const ctx = new BenchContext(
      { dumpBytes: opts.dumpBytes, runs: opts.runs, bin: opts.bin, env: opts.env, restores },
      rig,
      dir,
      awsProgram ? new AwsCli(awsProgram, dir) : undefined,
      servers,
      adminDb,
      new Runner(opts.runs, BUCKET),
      report,
    );

    if (opts.only.has('pg')) for (const dataset of opts.pgData) await postgresBench(ctx, big, dataset);
    if (opts.only.has('maria')) {
      for (const [i, dataset] of opts.mariaData.entries()) {
        await mariadbBench(ctx, dataset, { sweep: opts.sweep && i === 0, restoreServer: mariaRestore });
      }
    }
    if (opts.only.has('fleet')) await fleetBench(ctx, fleetNames, opts.concurrency);

    say(`\nmydb-backup benchmark — ${new Date().toISOString()}`);
    say(machine());
    say(load.stop());
    const extra = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join(' ');
    say(
      `C: ${opts.bin}${extra ? ` with ${extra}` : ''}; S3: ${servers.map((s) => s.name).join(', ')}; runs per figure: ${opts.runs} (medians); ` +
        `total ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    say(report.render());
    if (opts.json) {
      await writeFile(opts.json, JSON.stringify({ machine: machine(), options: { ...opts, only: [...opts.only] }, ...report.json() }, null, 2));
    }
  } finally {
    for (const server of servers) await server.stop();
    await rm(dir, { recursive: true, force: true });
    await mariaRestore?.stop();
    await big?.stop();
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
