/**
 * `npm run bench` (= npm run build && tsx bench/bench.ts): throughput and memory of a backup and of a restore, side by
 * side with the limit and with the old shell pipeline, on throwaway local servers (the test rig: PostgreSQL, MariaDB,
 * moto S3 on 127.0.0.1; nothing leaves the machine). Results: BENCHMARKS.md.
 *
 *   A0   pg_dump -Fc -Z0 DB > /dev/null             the true limit: the dump without its compression (PostgreSQL)
 *   AZ   pg_dump -Fc -Z0 DB | zstd > /dev/null      C's own processes, without node and S3 (PostgreSQL)
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
 * Options: `npm run bench -- --help`. The row counters alone (bench/counters.ts): `--only counters`, no servers.
 * Not a test: vitest runs it only as that smoke run, and asserts no figure.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command as CommanderCommand, CommanderError, InvalidArgumentError } from 'commander';
import { createAdminDb, type SeedContainer } from '../test/helpers/admin-db.js';
import { RIG_PASSWORDS, startMariadb, startPostgres, startRig, type MariaServer, type PgServer } from '../test/rig/index.js';
import { BenchContext, DEFAULT_BIN, BUCKET, note, say } from './context.js';
import { measureCounters, type CounterFigure } from './counters.js';
import { requireGnuTime } from './measure.js';
import { Report, table } from './report.js';
import { Runner } from './runner.js';
import { S3_KINDS, startS3Server, type S3Kind, type S3Server } from './s3-servers.js';
import { AwsCli, findAws } from './shell.js';
import { fleetBench } from './scenarios/fleet.js';
import { MARIA_CONTAINER, MARIA_DATASETS, mariadbBench, type MariaDataset } from './scenarios/mariadb.js';
import { PG_CONTAINER, PG_DATASETS, postgresBench, type PgDataset } from './scenarios/postgres.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** What --only chooses from. */
const PARTS = ['pg', 'maria', 'fleet', 'restore', 'counters'] as const;
/** Dump bytes each row counter reads per run (held in memory). */
const COUNTER_BYTES = 256 * MIB;

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

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

const positiveList = (value: string): number[] => value.split(',').map((v) => Math.round(positive(v)));

/** A comma-separated option whose items must be among `allowed`. */
const among =
  <T extends string>(allowed: readonly T[]) =>
  (value: string): T[] => {
    const items = [...new Set(value.split(',').map((s) => s.trim()))];
    const wrong = items.filter((item) => !allowed.includes(item as T));
    if (wrong.length || !items.length) throw new InvalidArgumentError(`expected some of ${allowed.join(', ')}, not ${wrong.join(', ') || "''"}.`);
    return items as T[];
  };

function settings(value: string): Record<string, string> {
  const pairs = value.split(',').filter(Boolean);
  const bad = pairs.filter((kv) => kv.indexOf('=') <= 0);
  if (bad.length) throw new InvalidArgumentError(`expected K=V pairs separated by commas, not ${bad.join(', ')}.`);
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

function benchProgram(): CommanderCommand {
  return new CommanderCommand('npm run bench --')
    .description(
      'Throughput and memory of a backup (C: backup-all) and a restore (R_C) beside the dump alone (A0, A), the dump through zstd as C runs it (AZ) and the old shell ' +
        'pipeline (B: pg_dump | aws s3 cp; R_B: aws s3 cp | pg_restore), for PostgreSQL and MariaDB on generated data sets, then a ' +
        'fleet of small containers, on throwaway local servers. Results: BENCHMARKS.md.',
    )
    .option(
      '--size-gib <n>',
      "size of each generated data set (default 1): PostgreSQL's pg_dump -Fc -Z0, except random's pg_dump -Fc (as in the earlier figures); MariaDB's SQL",
      positive,
    )
    .option('--runs <n>', 'runs per figure (default 3)', positive)
    .option('--fleet <n>', 'containers in the fleet run (default 50)', positive)
    .option('--concurrency <list>', 'fleet concurrencies (default 1,2,4,8)', positiveList)
    .option('--only <list>', `some of: ${PARTS.join(', ')} (default all; restore: the R_* rows of pg and maria; counters alone start no servers)`, among(PARTS))
    .option('--pg-data <list>', `PostgreSQL data sets, some of: ${PG_DATASETS.join(', ')} (default all)`, among(PG_DATASETS))
    .option('--maria-data <list>', `MariaDB data sets, some of: ${MARIA_DATASETS.join(', ')} (default all)`, among(MARIA_DATASETS))
    .option('--sweep', 'also sweep BACKUP_S3_PART_SIZE_MIB × BACKUP_S3_QUEUE_SIZE for C (MariaDB, no compression)')
    .option('--json <file>', 'also write every figure as JSON')
    .option('--bin <path>', 'run this build of the CLI for C (e.g. a checkout of an older commit), default bin/backup-all')
    .option(
      '--s3 <list>',
      `the S3 servers, side by side, some of: ${S3_KINDS.join(', ')} (default all): null is bench/null-s3.mjs, which answers like S3 ` +
        "but keeps no data (bigger dumps than moto holds; the uploaders without the emulator's CPU). Restores need moto; the fleet and the sweep use the first",
      among(S3_KINDS),
    )
    .option('--env <K=V,...>', 'extra settings for every C run (e.g. BACKUP_S3_CHECKSUM=WHEN_REQUIRED), to measure what a setting costs', settings)
    .option('--quick', 'CI smoke: 32 MiB data sets, 1 run, a fleet of 10')
    .exitOverride();
}

/** The options, or the process ends: 0 after --help, 2 after commander's one-line message for a bad option. */
function options(argv: string[]): Options {
  const program = benchProgram();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
  const values = program.opts<{
    sizeGib?: number;
    runs?: number;
    fleet?: number;
    concurrency?: number[];
    only?: string[];
    pgData?: PgDataset[];
    mariaData?: MariaDataset[];
    sweep?: boolean;
    json?: string;
    bin?: string;
    s3?: S3Kind[];
    env?: Record<string, string>;
    quick?: boolean;
  }>();
  const quick = values.quick ?? false;
  return {
    dumpBytes: values.sizeGib === undefined ? (quick ? 32 * MIB : GIB) : values.sizeGib * GIB,
    runs: Math.round(values.runs ?? (quick ? 1 : 3)),
    fleet: Math.round(values.fleet ?? (quick ? 10 : 50)),
    concurrency: values.concurrency ?? [1, 2, 4, 8],
    only: new Set(values.only ?? PARTS),
    sweep: values.sweep ?? false,
    ...(values.json ? { json: values.json } : {}),
    bin: values.bin ?? DEFAULT_BIN,
    env: values.env ?? {},
    s3: values.s3 ?? [...S3_KINDS],
    quick,
    pgData: values.pgData ?? [...PG_DATASETS],
    mariaData: values.mariaData ?? [...MARIA_DATASETS],
  };
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

/** The counters' table. */
function countersReport(figures: CounterFigure[]): string {
  return [
    `Row counters alone (in this process, a dump in memory handed over in 512 KiB pieces):`,
    table(
      ['Counter', 'MiB', 'Seconds', 'MiB/s'],
      figures.map((f) => [f.counter, f.mib.toFixed(1), f.seconds.toFixed(2), (f.mib / f.seconds).toFixed(1)]),
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  let counters: CounterFigure[] = [];
  if (opts.only.has('counters')) {
    note('measuring the row counters (in memory)');
    counters = await measureCounters(opts.quick ? 32 * MIB : COUNTER_BYTES, opts.runs);
  }
  if (![...opts.only].some((s) => s !== 'counters')) {
    say(`\nmydb-backup benchmark — ${new Date().toISOString()}`);
    say(machine());
    say(`runs per figure: ${opts.runs} (medians)\n`);
    say(countersReport(counters));
    if (opts.json) await writeFile(opts.json, JSON.stringify({ machine: machine(), options: { ...opts, only: [...opts.only] }, counters }, null, 2));
    return;
  }
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
    if (counters.length) say(`\n${countersReport(counters)}`);
    if (opts.json) {
      await writeFile(opts.json, JSON.stringify({ machine: machine(), options: { ...opts, only: [...opts.only] }, ...report.json(), counters }, null, 2));
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
