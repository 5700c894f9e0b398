/**
 * MariaDB, on one generated data set (the `benchdata` database of the rig's server):
 *
 *   A    mariadb-dump > /dev/null                     the limit: the dump alone (plain SQL, nothing to decompress)
 *   B    mariadb-dump | aws s3 cp - s3://…            the old way, per S3 server (stores plain SQL)
 *   C    backup-all NAME, compression none/gzip/zstd  this tool, per S3 server
 *   R_B  aws s3 cp s3://… - | mariadb                 B's plain SQL back into an empty server
 *   R_C  backup-all restore NAME --to mariadb://…     C's zstd backup (the default) back into an empty server
 *
 * The dump is --all-databases, so both restores load a whole server: a second MariaDB server, emptied of user
 * databases before each run. R_B's client is the one backup-all's restore runs (same options).
 */
import { mariadb } from '../../src/engines/mariadb.js';
import type { DumpSource } from '../../src/engines/types.js';
import { RIG_PASSWORDS, type MariaHandle, type MariaServer } from '../../test/rig/index.js';
import { BENCH_DB, note, toolResult, type BenchContext } from '../context.js';
import { generateAppMariadb } from '../data/app.js';
import type { Generated } from '../data/common.js';
import { generateMariadbEvents } from '../data/random.js';
import type { Scenario } from '../runner.js';

export const MARIA_CONTAINER = 'bench-maria';

const GENERATORS = {
  events: generateMariadbEvents,
  app: generateAppMariadb,
} satisfies Record<string, (maria: MariaHandle, db: string, bytes: number) => Promise<Generated>>;

export type MariaDataset = keyof typeof GENERATORS;
export const MARIA_DATASETS = Object.keys(GENERATORS) as MariaDataset[];

const COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;
/** Which C backup R_C restores: the default compression. */
const RESTORED_COMPRESSION = 'zstd';

export async function mariadbBench(
  ctx: BenchContext,
  dataset: MariaDataset,
  opts: { sweep: boolean; restoreServer: MariaServer | undefined },
): Promise<void> {
  const { runs, dumpBytes } = ctx.settings;
  const maria = ctx.rig.maria;
  note(`MariaDB, ${dataset} data: generating about ${(dumpBytes / 2 ** 20).toFixed(0)} MiB of SQL`);
  const generated = await GENERATORS[dataset](maria, BENCH_DB, dumpBytes);
  note(`generated in ${generated.seconds.toFixed(1)} s: ${generated.description}`);
  const target = {
    host: maria.host,
    port: maria.port,
    user: 'root',
    password: RIG_PASSWORDS.maria,
    compression: 'none',
    container: { name: 'x' },
  } as unknown as DumpSource;
  const [step] = mariadb.dumpSteps(target, []);
  if (!step) throw new Error('no MariaDB dump step');
  const dump = await ctx.shell(step.command);
  const dataBytes = await ctx.warmUp(`MariaDB ${dataset}`, dump);
  const section = ctx.report.section({
    engine: 'mariadb',
    dataset,
    title: `MariaDB, ${dataset}`,
    description: generated.description,
    dataBytes,
    generatedS: generated.seconds,
  });

  const source = opts.restoreServer ? ctx.restoreSource() : undefined;
  const oldWayKey = (run: number) => `old-way/maria-${dataset}-${run}.sql`;
  const a = ctx.dumpOnly('A  mariadb-dump > /dev/null', dump);
  const perServer = ctx.servers.map((server) => ({
    server,
    b: ctx.oldWay(server, 'B  mariadb-dump | aws s3 cp -', dump, oldWayKey, server === source),
    cs: COMPRESSIONS.map((compression) => ({
      compression,
      scenario: ctx.backup(server, `C  backup-all, compression ${compression}`, [MARIA_CONTAINER], { BACKUP_COMPRESS_MARIADB: compression }, [], server === source && compression === RESTORED_COMPRESSION),
    })),
  }));
  const results = await ctx.runner.rounds([a, ...perServer.flatMap(({ b, cs }) => [...(b ? [b] : []), ...cs.map((c) => c.scenario)])]);
  const outcome = (sc: Scenario) => results.get(sc)!;

  ctx.report.add(section, { kind: 'A', label: a.label, stats: outcome(a).stats, dumpProcs: ['dump'] });
  for (const { server, b, cs } of perServer) {
    if (b) {
      ctx.report.add(section, {
        kind: 'B',
        label: b.label,
        s3: server.kind,
        stats: outcome(b).stats,
        ...stored(outcome(b).storedBytes),
        rss: { proc: 'upload', name: 'aws' },
        dumpProcs: ['dump'],
        uploaderProc: 'upload',
      });
    }
    for (const { compression, scenario } of cs) {
      ctx.report.add(section, {
        kind: 'C',
        variant: compression,
        label: scenario.label,
        s3: server.kind,
        stats: outcome(scenario).stats,
        ...stored(outcome(scenario).storedBytes),
        rss: { proc: 'tool', name: 'node' },
        uploaderProc: 'tool',
        uploaderIncludesDump: true,
      });
    }
  }

  if (opts.sweep) await sweep(ctx, dataBytes);

  const kept = perServer.find((p) => p.server === source);
  const restoreServer = opts.restoreServer;
  if (!source || !kept || !restoreServer) return;
  const around = {
    before: () => dropUserDatabases(restoreServer),
    check: () => sameRows(maria, restoreServer, BENCH_DB),
  };
  const keptC = kept.cs.find((c) => c.compression === RESTORED_COMPRESSION)!.scenario;
  // The folder id: a backups row's backup_id may repeat (same second), a folder never does.
  const backupId = toolResult(keptC.label, outcome(keptC).last).backups[0]?.folder.split('/').at(-2) ?? '';
  const [load] = mariadb.restoreSteps(['x.sql'], { host: restoreServer.host, port: restoreServer.port, user: 'root', password: RIG_PASSWORDS.maria });
  if (!load) throw new Error('no MariaDB restore step');
  const loader = await ctx.shell(load.command);
  const rb = kept.b && ctx.awsRestore('R_B aws s3 cp - | mariadb', source, oldWayKey(runs - 1), loader, around);
  const rc = ctx.toolRestore(
    `R_C backup-all restore (${RESTORED_COMPRESSION})`,
    source,
    ['restore', MARIA_CONTAINER, '--backup-id', backupId, '--to', `mariadb://${restoreServer.host}:${restoreServer.port}`],
    around,
  );
  const restores = await ctx.runner.rounds(rb ? [rb, rc] : [rc]);
  if (rb) ctx.report.add(section, { kind: 'R_B', label: rb.label, s3: source.kind, stats: restores.get(rb)!.stats, rss: { proc: 'download', name: 'aws' } });
  ctx.report.add(section, { kind: 'R_C', label: rc.label, s3: source.kind, stats: restores.get(rc)!.stats, rss: { proc: 'tool', name: 'node' } });
  await ctx.runner.release(source);
}

const stored = (bytes: number | undefined) => (bytes === undefined ? {} : { storedBytes: bytes });

/** Part size × queue size for C (compression none), on the first S3 server. */
async function sweep(ctx: BenchContext, dataBytes: number): Promise<void> {
  const server = ctx.servers[0]!;
  const grid: { partMiB: number; queue: number; scenario: Scenario }[] = [];
  for (const partMiB of [5, 8, 16, 32]) {
    for (const queue of [1, 2, 4, 8]) {
      grid.push({
        partMiB,
        queue,
        scenario: ctx.backup(server, `sweep: part ${partMiB} MiB × queue ${queue}`, [MARIA_CONTAINER], {
          BACKUP_COMPRESS_MARIADB: 'none',
          BACKUP_S3_PART_SIZE_MIB: String(partMiB),
          BACKUP_S3_QUEUE_SIZE: String(queue),
        }),
      });
    }
  }
  const results = await ctx.runner.rounds(grid.map((g) => g.scenario));
  for (const g of grid) ctx.report.sweep.push({ partMiB: g.partMiB, queue: g.queue, stats: results.get(g.scenario)!.stats, dataBytes });
}

const SYSTEM_SCHEMAS = "('mysql', 'information_schema', 'performance_schema', 'sys')";

async function dropUserDatabases(server: MariaHandle): Promise<void> {
  const dbs = await server.query(`SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ${SYSTEM_SCHEMAS}`);
  if (dbs.length) await server.query(dbs.map(([db]) => `DROP DATABASE \`${db ?? ''}\`;`).join('\n'));
}

/** Throws unless every table of `db` on `from` is on `to` with as many rows. */
async function sameRows(from: MariaHandle, to: MariaHandle, db: string): Promise<void> {
  const tables = (await from.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${db}' AND table_type = 'BASE TABLE' ORDER BY 1`)).map(([t]) => t ?? '');
  const counts = async (server: MariaHandle) => (await server.query(tables.map((t) => `SELECT COUNT(*) FROM \`${db}\`.\`${t}\`;`).join('\n'))).map(([n]) => n);
  const [want, got] = await Promise.all([counts(from), counts(to)]);
  const wrong = tables.filter((_, i) => want[i] !== got[i]);
  if (!tables.length || wrong.length) {
    throw new Error(`the restore of ${db} is not whole: ${wrong.map((t) => `${db}.${t} has ${got[tables.indexOf(t)]} rows, not ${want[tables.indexOf(t)]}`).join('; ') || 'no tables'}`);
  }
}
