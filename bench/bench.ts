/**
 * `npm run bench` (= npm run build && tsx bench/bench.ts): throughput and memory of a backup, side by side with the
 * limit and with the old shell pipeline, on throwaway local servers (the test rig: PostgreSQL, MariaDB, moto S3 on
 * 127.0.0.1; nothing leaves the machine). Results: BENCHMARKS.md.
 *
 *   A  pg_dump -Fc DB > /dev/null                 the limit: the dump alone
 *   B  pg_dump -Fc DB | aws s3 cp - s3://…        the old tool's way
 *   C  backup-all NAME                            this tool
 * and the same for mariadb-dump (C with compression none, gzip and zstd), then a fleet of small containers at
 * several --concurrency values, and the row counters alone (bench/counters.ts). Figures are medians of --runs runs in
 * one session; peak RSS is the uploader's (aws for B, node for C) from GNU time.
 *
 * Options: `npm run bench -- --help`.
 * Not a test: vitest never runs it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command as CommanderCommand, CommanderError, InvalidArgumentError, Option } from 'commander';
import { execa } from 'execa';
import { createAdminDb, type SeedContainer } from '../test/helpers/admin-db.js';
import { toolEnv } from '../test/helpers/run-cli.js';
import {
  createBucket,
  freePort,
  listKeys,
  RIG_PASSWORDS,
  s3Client,
  startPostgres,
  startRig,
  waitUntil,
  type PgServer,
  type Rig,
} from '../test/rig/index.js';
import { spawnServer } from '../test/rig/proc.js';
import { dumpDatabaseStep } from '../src/engines/postgres.js';
import { mariadb } from '../src/engines/mariadb.js';
import type { Command, Target } from '../src/engines/types.js';
import { deleteObjects } from '../src/storage/s3.js';
import { measureCounters, type CounterFigure } from './counters.js';
import { generateMariadb, generatePostgres } from './data.js';
import { measure, medianStats, requireGnuTime, sh, type RunStats, type Timed } from './measure.js';

const DEFAULT_BIN = fileURLToPath(new URL('../bin/backup-all', import.meta.url));
const NULL_S3 = fileURLToPath(new URL('./null-s3.mjs', import.meta.url));
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const BENCH_DB = 'benchdata';
/** Dump bytes each row counter reads per run (held in memory). */
const COUNTER_BYTES = 256 * MIB;
const BUCKET = 'mydb-bench';

const say = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`[bench] ${line}\n`);

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
  s3: 'moto' | 'null';
  /** Extra environment for C. */
  env: Record<string, string>;
  quick: boolean;
}

const PARTS = ['pg', 'maria', 'fleet', 'counters'];

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

const positiveList = (value: string): number[] => value.split(',').map((v) => Math.round(positive(v)));

function parts(value: string): Set<string> {
  const wanted = value.split(',').map((s) => s.trim());
  const unknown = wanted.filter((p) => !PARTS.includes(p));
  if (unknown.length) throw new InvalidArgumentError(`expected some of ${PARTS.join(', ')}, not ${unknown.join(', ')}.`);
  return new Set(wanted);
}

function settings(value: string): Record<string, string> {
  const pairs = value.split(',').filter(Boolean);
  const bad = pairs.filter((kv) => kv.indexOf('=') <= 0);
  if (bad.length) throw new InvalidArgumentError(`expected K=V pairs separated by commas, not ${bad.join(', ')}.`);
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

function benchProgram(): CommanderCommand {
  return new CommanderCommand('npm run bench --')
    .description(
      'Throughput and memory of a backup (C: backup-all) beside the dump alone (A) and the old shell pipeline (B: pg_dump | aws s3 cp), ' +
        'for PostgreSQL and MariaDB, then a fleet of small containers, on throwaway local servers. Results: BENCHMARKS.md.',
    )
    .option('--size-gib <n>', 'dump size of the generated PostgreSQL database, and SQL size of the MariaDB one (default 1)', positive)
    .option('--runs <n>', 'runs per figure (default 3)', positive)
    .option('--fleet <n>', 'containers in the fleet run (default 50)', positive)
    .option('--concurrency <list>', 'fleet concurrencies (default 1,2,4,8)', positiveList)
    .option('--only <list>', `some of: ${PARTS.join(', ')} (default all; counters alone start no servers)`, parts)
    .option('--sweep', 'also sweep BACKUP_S3_PART_SIZE_MIB × BACKUP_S3_QUEUE_SIZE for C (MariaDB, no compression)')
    .option('--json <file>', 'also write every figure as JSON')
    .option('--bin <path>', 'run this build of the CLI for C (e.g. a checkout of an older commit), default bin/backup-all')
    .addOption(
      new Option(
        '--s3 <server>',
        'the S3 server: moto, or bench/null-s3.mjs, which answers like S3 but keeps no data: for dumps bigger than moto can hold ' +
          '(it assembles an object in memory ~4 times over), and to see the uploaders without the emulator\'s CPU',
      )
        .choices(['moto', 'null'])
        .default('moto'),
    )
    .option('--env <K=V,...>', 'extra settings for every C run (e.g. BACKUP_S3_CHECKSUM=WHEN_REQUIRED), to measure what a setting costs', settings)
    .option('--quick', 'CI smoke: 32 MiB dumps, 1 run, a fleet of 10 (under a minute)')
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
    only?: Set<string>;
    sweep?: boolean;
    json?: string;
    bin?: string;
    s3: 'moto' | 'null';
    env?: Record<string, string>;
    quick?: boolean;
  }>();
  const quick = values.quick ?? false;
  return {
    dumpBytes: values.sizeGib === undefined ? (quick ? 32 * MIB : GIB) : values.sizeGib * GIB,
    runs: Math.round(values.runs ?? (quick ? 1 : 3)),
    fleet: Math.round(values.fleet ?? (quick ? 10 : 50)),
    concurrency: values.concurrency ?? [1, 2, 4, 8],
    only: values.only ?? new Set(PARTS),
    sweep: values.sweep ?? false,
    ...(values.json ? { json: values.json } : {}),
    bin: values.bin ?? DEFAULT_BIN,
    env: values.env ?? {},
    s3: values.s3,
    quick,
  };
}

// ------------------------------------------------------------------------------------------------ commands

/** A Command as a bash line: its plain and secret env inline, a config file (if any) written to `dir`. */
async function commandLine(command: Command, dir: string): Promise<string> {
  let argv: string[] = [...command.argv];
  if (command.configFile) {
    const path = join(dir, `${command.argv[0]}.cnf`);
    await writeFile(path, command.configFile.content, { mode: 0o600 });
    const [program = '', ...rest] = argv;
    argv = command.configFile.position === 'first' ? [program, ...command.configFile.args(path), ...rest] : [...argv, ...command.configFile.args(path)];
  }
  const env = Object.entries({ ...command.env, ...command.secretEnv }).map(([k, v]) => `${k}=${sh(v)}`);
  return [...(env.length ? ['env', ...env] : []), ...argv.map(sh)].join(' ');
}

/** The real aws program (pyenv's shim adds a bash + pyenv exec on every start), or undefined when missing. */
async function findAws(): Promise<string | undefined> {
  const viaPyenv = await execa('pyenv', ['which', 'aws'], { reject: false });
  if (viaPyenv.exitCode === 0 && viaPyenv.stdout.trim()) return viaPyenv.stdout.trim();
  const onPath = await execa('sh', ['-c', 'command -v aws'], { reject: false });
  return onPath.exitCode === 0 && onPath.stdout.trim() ? onPath.stdout.trim() : undefined;
}

// ------------------------------------------------------------------------------------------------ results

interface Row {
  section: string;
  label: string;
  stats: RunStats;
  /** Bytes of the dump (uncompressed stream) the MiB/s is computed on. */
  dumpBytes: number;
  /** Bytes stored in S3, when compressed. */
  storedBytes?: number;
  /** Which process the RSS figure is of. */
  rssOf?: string;
  /** CPU split: labels of the dump and uploader processes in stats.procs. */
  dumpProc?: string;
  uploaderProc?: string;
  /** The uploader's figures include the dump's (node waits for it): subtract the dump's CPU from the A row. */
  uploaderIncludesDump?: boolean;
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------------------------------------------ the bench

class Bench {
  private readonly s3;
  readonly rows: Row[] = [];
  readonly fleetRows: { concurrency: number; dumpsS: number; toolS: number; overheadMs: number; slotOverheadMs: number; rssMiB: number }[] = [];
  readonly sweepRows: { partMiB: number; queue: number; stats: RunStats; dumpBytes: number }[] = [];

  constructor(
    private readonly opts: Options,
    private readonly rig: Rig,
    private readonly big: PgServer,
    private readonly dir: string,
    private readonly aws: string | undefined,
    private readonly server: S3Server,
    private readonly adminDb: string,
  ) {
    this.s3 = s3Client(server.endpoint);
  }

  private baseEnv(): Record<string, string> {
    return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', TZ: 'UTC' };
  }

  /** The CLI's environment: the rig's admin DB and bucket, defaults for everything the benchmark does not vary. */
  toolEnv(extra: Record<string, string> = {}): Record<string, string> {
    const env = toolEnv(this.rig, {
      adminDb: this.adminDb,
      bucket: BUCKET,
      extra: { PATH: process.env.PATH ?? '', AWS_ENDPOINT_URL_S3: this.server.endpoint, ...this.opts.env, ...extra },
    });
    delete env.BACKUP_PROGRESS_INTERVAL; // the tests' 1 s; the default (30 s) here
    return env;
  }

  private awsEnv(): Record<string, string> {
    return {
      ...this.baseEnv(),
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing-secret-key',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(this.dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(this.dir, 'no-aws-credentials'),
    };
  }

  private awsCp(key: string): string {
    return `${sh(this.aws ?? 'aws')} --endpoint-url ${sh(this.server.endpoint)} s3 cp - ${sh(`s3://${BUCKET}/${key}`)} --sse AES256 --only-show-errors`;
  }

  /** Removes every object (moto keeps them in memory and temp files). */
  async emptyBucket(): Promise<void> {
    const keys = await listKeys(this.s3, BUCKET);
    if (keys.length) await deleteObjects(this.s3, BUCKET, keys);
  }

  /** One measured run; the bucket emptied after it. */
  async once(label: string, build: (timed: Timed) => string, env: Record<string, string>): Promise<RunStats> {
    const stats = await measure(build, { env, ...(this.server.pid ? { serverPid: this.server.pid } : {}) });
    await this.emptyBucket();
    note(`${label}: ${f1(stats.wallS)} s`);
    return stats;
  }

  /**
   * `runs` rounds over the scenarios, interleaved (A, B, C, A, B, C...) so that drift in the machine's state (the
   * servers' background work after loading, other load) spreads over all of them; medians per scenario.
   */
  async rounds(scenarios: Scenario[]): Promise<Map<Scenario, RunStats>> {
    const runs = new Map<Scenario, RunStats[]>(scenarios.map((sc) => [sc, []]));
    for (let i = 0; i < this.opts.runs; i += 1) {
      for (const sc of scenarios) {
        const stats = await this.once(`${sc.label} (run ${i + 1}/${this.opts.runs})`, (timed) => sc.build(timed, i), sc.env);
        if (sc.check) sc.check(stats);
        runs.get(sc)!.push(stats);
      }
    }
    return new Map([...runs].map(([sc, list]) => [sc, medianStats(list)]));
  }

  /** A scenario running the CLI on names; its --json result is checked after every run. */
  toolScenario(label: string, names: string[], extraEnv: Record<string, string> = {}, flags: string[] = []): Scenario {
    return {
      label,
      build: (timed) => `${timed('tool', `${sh(process.execPath)} ${sh(this.opts.bin)} --json ${flags.join(' ')} ${names.map(sh).join(' ')}`)} 2>/dev/null`,
      env: this.toolEnv(extraEnv),
      check: (stats) => void toolResult(label, stats),
    };
  }

  /** A: the dump alone into /dev/null; B: the dump piped into `aws s3 cp -` (the old tool's way). */
  baselines(name: string, dump: string, key: (run: number) => string): [Scenario, Scenario] {
    return [
      { label: `A  ${name} > /dev/null`, build: (timed) => `${timed('dump', dump)} > /dev/null`, env: this.baseEnv() },
      {
        label: `B  ${name} | aws s3 cp -`,
        build: (timed, i) => `${timed('dump', dump)} | ${timed('upload', this.awsCp(key(i)))}`,
        env: this.awsEnv(),
      },
    ];
  }

  /** The servers' background work after a bulk load (checkpoints, purge, hint bits) out of the way: one dump. */
  async warmUp(dump: string): Promise<void> {
    await this.once('warm-up dump (not counted)', (timed) => `${timed('dump', dump)} > /dev/null`, this.baseEnv());
  }

  // ---------------------------------------------------------------------------------------------- PostgreSQL

  async postgres(): Promise<void> {
    const section = `PostgreSQL, pg_dump -Fc of ${(this.opts.dumpBytes / GIB).toFixed(2)} GiB`;
    note(`generating the PostgreSQL database (${section})`);
    const gen = await generatePostgres(this.big, BENCH_DB, this.opts.dumpBytes);
    note(`generated in ${f1(gen.seconds)} s`);
    const conn = { host: this.big.host, port: this.big.port, user: this.big.adminUser, password: this.big.adminPassword };
    const dump = await commandLine(dumpDatabaseStep(conn, BENCH_DB).command, this.dir);
    await this.warmUp(dump);

    const [a, b] = this.baselines('pg_dump -Fc', dump, (i) => `old-way/pg-${i}.dump`);
    const c = this.toolScenario('C  backup-all', ['bench-pg']);
    const results = await this.rounds(this.aws ? [a, b, c] : [a, c]);
    const cStats = results.get(c)!;
    const object = toolResult(c.label, cStats).backups[0]?.objects.find((o) => o.key.endsWith('.dump'));
    const dumpBytes = object?.bytes ?? this.opts.dumpBytes;
    this.rows.push({ section, label: a.label, stats: results.get(a)!, dumpBytes, dumpProc: 'dump' });
    if (this.aws) this.rows.push({ section, label: b.label, stats: results.get(b)!, dumpBytes, rssOf: 'aws', dumpProc: 'dump', uploaderProc: 'upload' });
    this.rows.push({ section, label: c.label, stats: cStats, dumpBytes, rssOf: 'node', uploaderProc: 'tool', uploaderIncludesDump: true });
  }

  // ---------------------------------------------------------------------------------------------- MariaDB

  async mariadb(): Promise<void> {
    const section = `MariaDB, mariadb-dump of ${(this.opts.dumpBytes / GIB).toFixed(2)} GiB of SQL`;
    note(`generating the MariaDB database (${section})`);
    const gen = await generateMariadb(this.rig.maria, BENCH_DB, this.opts.dumpBytes);
    note(`generated in ${f1(gen.seconds)} s`);
    const target = {
      host: this.rig.maria.host,
      port: this.rig.maria.port,
      user: 'root',
      password: RIG_PASSWORDS.maria,
      compression: 'none',
      backupId: 'x',
      container: { name: 'x' },
    } as unknown as Target;
    const [step] = mariadb.dumpSteps(target, '');
    if (!step) throw new Error('no MariaDB dump step');
    const dump = await commandLine(step.command, this.dir);
    await this.warmUp(dump);

    const [a, b] = this.baselines('mariadb-dump', dump, (i) => `old-way/maria-${i}.sql`);
    const cs = (['none', 'gzip', 'zstd'] as const).map((compression) =>
      this.toolScenario(`C  backup-all, compression ${compression}`, ['bench-maria'], { BACKUP_COMPRESS_MARIADB: compression }),
    );
    const results = await this.rounds(this.aws ? [a, b, ...cs] : [a, ...cs]);
    const dumpBytes = toolResult(cs[0]!.label, results.get(cs[0]!)!).backups[0]?.bytes ?? this.opts.dumpBytes;
    this.rows.push({ section, label: a.label, stats: results.get(a)!, dumpBytes, dumpProc: 'dump' });
    if (this.aws) this.rows.push({ section, label: b.label, stats: results.get(b)!, dumpBytes, rssOf: 'aws', dumpProc: 'dump', uploaderProc: 'upload' });
    for (const c of cs) {
      const stats = results.get(c)!;
      const stored = toolResult(c.label, stats).backups[0]?.bytes ?? 0;
      this.rows.push({
        section,
        label: c.label,
        stats,
        dumpBytes,
        ...(c === cs[0] ? {} : { storedBytes: stored }),
        rssOf: 'node',
        uploaderProc: 'tool',
        uploaderIncludesDump: true,
      });
    }

    if (this.opts.sweep) {
      const grid = sweepGrid().map(([partMiB, queue]) => ({
        partMiB,
        queue,
        scenario: this.toolScenario(`sweep: part ${partMiB} MiB × queue ${queue}`, ['bench-maria'], {
          BACKUP_COMPRESS_MARIADB: 'none',
          BACKUP_S3_PART_SIZE_MIB: String(partMiB),
          BACKUP_S3_QUEUE_SIZE: String(queue),
        }),
      }));
      const sweep = await this.rounds(grid.map((g) => g.scenario));
      for (const g of grid) this.sweepRows.push({ partMiB: g.partMiB, queue: g.queue, stats: sweep.get(g.scenario)!, dumpBytes });
    }
  }

  // ---------------------------------------------------------------------------------------------- fleet

  async fleet(names: string[]): Promise<void> {
    const pg = this.rig.pgB;
    const conn = { host: pg.host, port: pg.port, user: pg.adminUser, password: pg.adminPassword };
    // What each small backup runs, without the tool: the globals and the one database's dump.
    const globals = await commandLine(
      { argv: ['pg_dumpall', '--globals-only', '--no-password', '-l', 'postgres'], env: dumpDatabaseStep(conn, 'x').command.env ?? {}, secretEnv: { PGPASSWORD: conn.password } },
      this.dir,
    );
    const dump = await commandLine(dumpDatabaseStep(conn, 'inventory').command, this.dir);
    const script = join(this.dir, 'small-dumps.sh');
    await writeFile(script, `${globals} > /dev/null\n${dump} > /dev/null\n`, { mode: 0o700 });
    const pairs = this.opts.concurrency.map((concurrency) => ({
      concurrency,
      dumps: {
        label: `fleet: the dumps only, ×${names.length} at ${concurrency} in parallel`,
        build: () => `seq 1 ${names.length} | xargs -P ${concurrency} -I{} bash ${sh(script)}`,
        env: this.baseEnv(),
      } satisfies Scenario,
      tool: this.toolScenario(`fleet: backup-all ×${names.length} --concurrency ${concurrency}`, names, {}, [`--concurrency ${concurrency}`]),
    }));
    const results = await this.rounds(pairs.flatMap((p) => [p.dumps, p.tool]));
    for (const { concurrency, dumps, tool } of pairs) {
      const dumpsS = results.get(dumps)!.wallS;
      const toolStats = results.get(tool)!;
      // The wall time the tool adds, per backup; and per backup in its slot (each of `concurrency` slots runs
      // names/concurrency backups one after the other), i.e. how much longer each backup takes than its dumps.
      const overheadMs = ((toolStats.wallS - dumpsS) * 1000) / names.length;
      this.fleetRows.push({
        concurrency,
        dumpsS,
        toolS: toolStats.wallS,
        overheadMs,
        slotOverheadMs: overheadMs * concurrency,
        rssMiB: toolStats.procs.tool?.maxRssMiB ?? 0,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------- report

  report(): string {
    const out: string[] = [];
    const sections = [...new Set(this.rows.map((r) => r.section))];
    const mainRows: string[][] = [];
    const cpuRows: string[][] = [];
    for (const section of sections) {
      const rows = this.rows.filter((r) => r.section === section);
      const a = rows.find((r) => r.label.startsWith('A'));
      const b = rows.find((r) => r.label.startsWith('B'));
      mainRows.push([`**${section}**`, '', '', '', '', '', '']);
      cpuRows.push([`**${section}**`, '', '', '', '', '']);
      for (const r of rows) {
        const isC = r.label.startsWith('C');
        const rss = r.rssOf ? `${f1(r.stats.procs[r.uploaderProc ?? '']?.maxRssMiB ?? 0)} (${r.rssOf})` : '';
        const stored = r.storedBytes ? `${f1(r.storedBytes / MIB)} MiB (${((100 * r.storedBytes) / r.dumpBytes).toFixed(0)}%)` : '';
        mainRows.push([
          r.label,
          f1(r.stats.wallS),
          f1(r.dumpBytes / MIB / r.stats.wallS),
          rss,
          isC && a ? f2(r.stats.wallS / a.stats.wallS) : '',
          isC && b ? f2(r.stats.wallS / b.stats.wallS) : '',
          stored,
        ]);
        let dumpCpu = r.dumpProc ? (r.stats.procs[r.dumpProc]?.cpuS ?? 0) : (a?.stats.procs.dump?.cpuS ?? 0);
        let uploaderCpu = r.uploaderProc ? (r.stats.procs[r.uploaderProc]?.cpuS ?? 0) : 0;
        if (r.uploaderIncludesDump && r.stats.toolSelfCpuS !== undefined) {
          // node's rusage includes its children (the dump, zstd); its own figure comes from its log.
          dumpCpu = uploaderCpu - r.stats.toolSelfCpuS;
          uploaderCpu = r.stats.toolSelfCpuS;
        } else if (r.uploaderIncludesDump) uploaderCpu -= dumpCpu;
        const other = r.stats.machineCpuS - dumpCpu - uploaderCpu - r.stats.serverCpuS;
        cpuRows.push([r.label, f1(r.stats.wallS), f1(dumpCpu), r.uploaderProc ? f1(uploaderCpu) : '', f1(r.stats.serverCpuS), f1(other)]);
      }
    }
    out.push(table(['Scenario', 'Wall s', 'MiB/s', 'Peak RSS MiB', 'C/A', 'C/B', 'Stored'], mainRows));
    out.push('');
    out.push(`Where the CPU goes (CPU seconds; the machine has ${cpus().length} cores, so at most ${cpus().length} × wall; S3 server: ${this.server.name}):`);
    out.push(table(['Scenario', 'Wall s', 'Dump', 'Uploader', 'S3 server', 'DB server + rest'], cpuRows));
    out.push("(C: 'Uploader' is node's own CPU (from its --json result), 'Dump' its children: the dump, and zstd when it compresses.)");
    if (this.fleetRows.length) {
      out.push('');
      out.push(`Fleet: ${this.opts.fleet} small PostgreSQL containers (globals + one small database each, 2 objects)`);
      out.push(
        table(
          ['--concurrency', 'Dumps only, s', 'backup-all, s', 'Overhead per backup, ms', '… within its slot, ms', 'Peak RSS MiB'],
          this.fleetRows.map((r) => [String(r.concurrency), f2(r.dumpsS), f2(r.toolS), r.overheadMs.toFixed(0), r.slotOverheadMs.toFixed(0), f1(r.rssMiB)]),
        ),
      );
      out.push(
        '(Dumps only: the same pg_dumpall --globals-only + pg_dump -Fc per container, run by xargs -P concurrency. Overhead per backup =\n' +
          ' (backup-all − dumps only) / containers: node start, admin DB rows and locks, the database listing, S3 requests.\n' +
          ' Within its slot = that × concurrency: how much longer each backup takes than its dumps.)',
      );
    }
    if (this.sweepRows.length) {
      out.push('');
      out.push('Sweep: MariaDB, compression none, BACKUP_S3_PART_SIZE_MIB × BACKUP_S3_QUEUE_SIZE');
      out.push(
        table(
          ['Part MiB', 'Queue', 'Wall s', 'MiB/s', 'Peak RSS MiB', 'S3 server CPU s'],
          this.sweepRows.map((r) => [
            String(r.partMiB),
            String(r.queue),
            f1(r.stats.wallS),
            f1(r.dumpBytes / MIB / r.stats.wallS),
            f1(r.stats.procs.tool?.maxRssMiB ?? 0),
            f1(r.stats.serverCpuS),
          ]),
        ),
      );
    }
    return out.join('\n');
  }

  close(): void {
    this.s3.destroy();
  }
}

interface S3Server {
  name: string;
  endpoint: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** moto from the rig, or bench/null-s3.mjs started next to it (under the rig's directory, so it is reaped with it). */
async function s3Server(kind: 'moto' | 'null', rig: Rig): Promise<S3Server> {
  if (kind === 'moto') {
    const pid = Number(readFileSync(join(rig.baseDir, 'moto', 'moto.pid'), 'utf8').trim()) || undefined;
    return { name: 'moto', endpoint: rig.moto.endpoint, pid, stop: async () => {} };
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = spawnServer(process.execPath, [NULL_S3, String(port)], { logFile: join(rig.baseDir, 'null-s3.log'), cwd: rig.baseDir });
  await waitUntil(async () => (await fetch(endpoint).then((r) => r.status).catch(() => 0)) > 0, 10_000, 'null-s3 to listen');
  return { name: 'null-s3 (keeps no data)', endpoint, pid: server.pid, stop: () => server.stop() };
}

interface Scenario {
  label: string;
  build: (timed: Timed, run: number) => string;
  env: Record<string, string>;
  /** Throws when the run did not do what it should (a failed backup). */
  check?: (stats: RunStats) => void;
}

/** The CLI's --json line; throws when any backup failed. */
function toolResult(label: string, stats: RunStats): ToolResult {
  const result = JSON.parse(stats.stdout.trim().split('\n').at(-1) ?? '{}') as ToolResult;
  const failed = (result.backups ?? []).filter((b) => !b.ok);
  if (!result.ok || failed.length) throw new Error(`${label}: backup failed: ${failed.map((b) => b.error).join('; ') || stats.stdout}`);
  return result;
}

interface ToolResult {
  ok: boolean;
  backups: { name: string; ok: boolean; error?: string; bytes: number; objects: { key: string; bytes: number }[] }[];
}

function sweepGrid(): [number, number][] {
  const grid: [number, number][] = [];
  for (const part of [5, 8, 16, 32]) for (const queue of [1, 2, 4, 8]) grid.push([part, queue]);
  return grid;
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
      figures.map((f) => [f.counter, f1(f.mib), f2(f.seconds), f1(f.mib / f.seconds)]),
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
  const aws = await findAws();
  if (!aws) note('aws CLI not found: the B rows (the old pipeline) are left out');
  const started = Date.now();
  const load = watchOtherLoad();
  note('starting the rig (PostgreSQL, MariaDB, moto on 127.0.0.1)');
  const rig = await startRig();
  const dir = await mkdtemp(join(tmpdir(), 'mydb-bench-'));
  let bench: Bench | undefined;
  let big: PgServer | undefined;
  let server: S3Server | undefined;
  try {
    // The big database gets a server of its own, so the container's backup is that database (plus the globals).
    big = await startPostgres({ baseDir: rig.baseDir, name: 'pgbench', adminPassword: RIG_PASSWORDS.pg });
    const fleetNames = Array.from({ length: opts.fleet }, (_, i) => `fleet-${String(i + 1).padStart(2, '0')}`);
    const containers: SeedContainer[] = [
      { name: 'bench-pg', engine: 'Postgres', port: big.port },
      { name: 'bench-maria', engine: 'MariaDB', port: rig.maria.port },
      ...fleetNames.map((name): SeedContainer => ({ name, engine: 'Postgres', port: rig.pgB.port })),
    ];
    const adminDb = 'mydb_bench_admin';
    await createAdminDb(rig.admin, adminDb, containers);
    server = await s3Server(opts.s3, rig);
    const s3 = s3Client(server.endpoint);
    await createBucket(s3, BUCKET);
    s3.destroy();
    bench = new Bench(opts, rig, big, dir, aws, server, adminDb);

    if (opts.only.has('pg')) await bench.postgres();
    if (opts.only.has('maria')) await bench.mariadb();
    if (opts.only.has('fleet')) await bench.fleet(fleetNames);

    say(`\nmydb-backup benchmark — ${new Date().toISOString()}`);
    say(machine());
    say(load.stop());
    say(`C: ${opts.bin}${Object.keys(opts.env).length ? ` with ${Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}; S3: ${server.name}; runs per figure: ${opts.runs} (medians); total ${f1((Date.now() - started) / 1000)} s\n`);
    say(bench.report());
    if (counters.length) say(`\n${countersReport(counters)}`);
    if (opts.json) {
      await writeFile(
        opts.json,
        JSON.stringify({ machine: machine(), options: { ...opts, only: [...opts.only] }, rows: bench.rows, fleet: bench.fleetRows, sweep: bench.sweepRows, counters }, null, 2),
      );
    }
  } finally {
    bench?.close();
    await rm(dir, { recursive: true, force: true });
    await server?.stop();
    await big?.stop();
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
