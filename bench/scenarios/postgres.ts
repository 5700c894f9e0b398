/**
 * PostgreSQL, on one generated data set in the server of its own (so the container's backup is that database plus
 * the globals):
 *
 *   A0   pg_dump -Fc -Z0 > /dev/null                  the true limit: the dump without its compression
 *   AZ   pg_dump -Fc -Z0 | zstd > /dev/null           C's own processes (the pipeline's zstd), without node and S3
 *   A    pg_dump -Fc > /dev/null                      the dump as it is backed up
 *   B    pg_dump -Fc | aws s3 cp - s3://…             the old way (the operator guide's pipeline), per S3 server
 *   C    backup-all NAME                              this tool, per S3 server
 *   R_B  aws s3 cp s3://… - | pg_restore              B's object back into an empty database
 *   R_C  backup-all restore NAME --to …/EMPTY         C's backup back into an empty database (SHA-256 checks on)
 *
 * R_B's pg_restore is the command backup-all's restore runs (--exit-on-error --single-transaction), so R_C/R_B is
 * what the tool adds: reading from S3, checking digests, the pipes.
 */
import { dumpDatabaseStep, pgRestoreCommand } from '../../src/engines/postgres.js';
import { ZSTD_ARGV } from '../../src/pipeline/compress.js';
import { withPgClient, type PgHandle, type PgServer } from '../../test/rig/index.js';
import { BENCH_DB, note, toolResult, type BenchContext } from '../context.js';
import { generateAppPostgres } from '../data/app.js';
import { recreatePgDatabase, type Generated } from '../data/common.js';
import { generatePgbench } from '../data/pgbench.js';
import { generateRandomPostgres } from '../data/random.js';
import type { Scenario } from '../runner.js';

export const PG_CONTAINER = 'bench-pg';
const RESTORE_DB = 'restored';

const GENERATORS = {
  random: generateRandomPostgres,
  app: generateAppPostgres,
  pgbench: generatePgbench,
} satisfies Record<string, (pg: PgHandle, db: string, bytes: number) => Promise<Generated>>;

export type PgDataset = keyof typeof GENERATORS;
export const PG_DATASETS = Object.keys(GENERATORS) as PgDataset[];

export async function postgresBench(ctx: BenchContext, big: PgServer, dataset: PgDataset): Promise<void> {
  const { runs, dumpBytes } = ctx.settings;
  note(`PostgreSQL, ${dataset} data: generating about ${(dumpBytes / 2 ** 20).toFixed(0)} MiB of pg_dump -Fc -Z0`);
  const generated = await GENERATORS[dataset](big, BENCH_DB, dumpBytes);
  note(`generated in ${generated.seconds.toFixed(1)} s: ${generated.description}`);
  const conn = { host: big.host, port: big.port, user: big.adminUser, password: big.adminPassword };
  // pg_dump -Fc (its own zlib: BACKUP_COMPRESS_POSTGRES=pgdump, the old way) and pg_dump -Fc -Z0.
  const compressed = await ctx.shell(dumpDatabaseStep(conn, BENCH_DB, { compression: 'none', nativeCompression: true }).command);
  const uncompressed = await ctx.shell(dumpDatabaseStep(conn, BENCH_DB, { compression: 'none' }).command);
  const dataBytes = await ctx.warmUp(`PostgreSQL ${dataset}`, uncompressed);
  const section = ctx.report.section({
    engine: 'postgres',
    dataset,
    title: `PostgreSQL, ${dataset}`,
    description: generated.description,
    dataBytes,
    generatedS: generated.seconds,
  });

  const source = ctx.restoreSource();
  const oldWayKey = (run: number) => `old-way/pg-${dataset}-${run}.dump`;
  const a0 = ctx.dumpOnly('A0 pg_dump -Fc -Z0 > /dev/null', uncompressed);
  const az = ctx.dumpCompressed('AZ pg_dump -Fc -Z0 | zstd > /dev/null', uncompressed, await ctx.shell({ argv: ZSTD_ARGV }));
  const a = ctx.dumpOnly('A  pg_dump -Fc > /dev/null', compressed);
  const perServer = ctx.servers.map((server) => ({
    server,
    b: ctx.oldWay(server, 'B  pg_dump -Fc | aws s3 cp -', compressed, oldWayKey, server === source),
    c: ctx.backup(server, 'C  backup-all', [PG_CONTAINER], {}, [], server === source),
  }));
  const results = await ctx.runner.rounds([a0, az, a, ...perServer.flatMap(({ b, c }) => (b ? [b, c] : [c]))]);
  const outcome = (sc: Scenario) => results.get(sc)!;

  ctx.report.add(section, { kind: 'A0', label: a0.label, stats: outcome(a0).stats, dumpProcs: ['dump'] });
  ctx.report.add(section, { kind: 'AZ', label: az.label, stats: outcome(az).stats, dumpProcs: ['dump', 'compress'] });
  ctx.report.add(section, { kind: 'A', label: a.label, stats: outcome(a).stats, dumpProcs: ['dump'] });
  for (const { server, b, c } of perServer) {
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
    ctx.report.add(section, {
      kind: 'C',
      label: c.label,
      s3: server.kind,
      stats: outcome(c).stats,
      ...stored(outcome(c).storedBytes),
      rss: { proc: 'tool', name: 'node' },
      uploaderProc: 'tool',
      uploaderIncludesDump: true,
    });
  }

  const kept = perServer.find((p) => p.server === source);
  if (!source || !kept) return;
  // Into an empty database made before each run (not timed); every table's rows compared after it.
  const around = {
    before: () => recreatePgDatabase(big, RESTORE_DB),
    check: () => sameRows(big, BENCH_DB, RESTORE_DB),
  };
  // The folder id: a backups row's backup_id may repeat (same second), a folder never does.
  const backupId = toolResult(kept.c.label, outcome(kept.c).last).backups[0]?.folder.split('/').at(-2) ?? '';
  const loader = await ctx.shell(pgRestoreCommand({ ...conn, database: BENCH_DB, intoDatabase: RESTORE_DB }));
  const rb = kept.b && ctx.awsRestore('R_B aws s3 cp - | pg_restore', source, oldWayKey(runs - 1), loader, around);
  const rc = ctx.toolRestore(
    'R_C backup-all restore',
    source,
    ['restore', PG_CONTAINER, '--backup-id', backupId, '--database', BENCH_DB, '--to', `postgresql://${big.host}:${big.port}/${RESTORE_DB}`],
    around,
  );
  const restores = await ctx.runner.rounds(rb ? [rb, rc] : [rc]);
  if (rb) ctx.report.add(section, { kind: 'R_B', label: rb.label, s3: source.kind, stats: restores.get(rb)!.stats, rss: { proc: 'download', name: 'aws' } });
  ctx.report.add(section, { kind: 'R_C', label: rc.label, s3: source.kind, stats: restores.get(rc)!.stats, rss: { proc: 'tool', name: 'node' } });
  await ctx.runner.release(source);
  // Gone before anything else backs this server up.
  await withPgClient(big.url('postgres'), (c) => c.query(`DROP DATABASE IF EXISTS ${RESTORE_DB} WITH (FORCE)`));
}

const stored = (bytes: number | undefined) => (bytes === undefined ? {} : { storedBytes: bytes });

/** Throws unless every table of `from` is in `to` with as many rows. */
async function sameRows(pg: PgHandle, from: string, to: string): Promise<void> {
  const tables = await withPgClient(pg.url(from), async (c) =>
    (await c.query<{ name: string }>("SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.name),
  );
  const counts = (db: string) =>
    withPgClient(pg.url(db), async (c) => {
      const out: Record<string, string> = {};
      for (const table of tables) out[table] = (await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? '';
      return out;
    });
  const [want, got] = await Promise.all([counts(from), counts(to)]);
  const wrong = tables.filter((t) => want[t] !== got[t]);
  if (!tables.length || wrong.length) {
    throw new Error(`the restore into ${to} is not whole: ${wrong.map((t) => `${t} has ${got[t]} rows, not ${want[t]}`).join('; ') || 'no tables'}`);
  }
}
