/**
 * A fleet of small PostgreSQL containers (globals + one small database each) at several --concurrency values,
 * against the same dumps run by `xargs -P` without the tool: the overhead per backup. On the first S3 server.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dumpDatabaseStep } from '../../src/engines/postgres.js';
import type { Command } from '../../src/engines/types.js';
import { ZSTD_ARGV } from '../../src/pipeline/compress.js';
import { startedAs } from '../../src/pipeline/pg-wrapper.js';
import { median, sh } from '../measure.js';
import type { BenchContext } from '../context.js';
import type { Scenario } from '../runner.js';

/**
 * The wall time the tool adds per backup: the median over the rounds of (backup-all − dumps only) of the same round,
 * run back to back, per container. Pairing each round's runs keeps a machine that slows down or speeds up between
 * rounds out of the figure, where the difference of the two medians would take it in (it swung by ±30 ms here).
 */
export function pairedOverheadMs(dumpsWallsS: readonly number[], toolWallsS: readonly number[], containers: number): number {
  if (dumpsWallsS.length !== toolWallsS.length || !dumpsWallsS.length) throw new Error('the fleet needs one dumps run and one tool run per round');
  return (median(toolWallsS.map((tool, i) => tool - dumpsWallsS[i]!)) * 1000) / containers;
}

export async function fleetBench(ctx: BenchContext, names: string[], concurrencies: number[]): Promise<void> {
  const pg = ctx.rig.pgB;
  const server = ctx.servers[0]!;
  const conn = { host: pg.host, port: pg.port, user: pg.adminUser, password: pg.adminPassword };
  // What each small backup runs, without the tool: the globals and the one database's dump, compressed as the
  // tool's default does (pg_dump -Fc -Z0 | zstd).
  const dumpCommand = dumpDatabaseStep(conn, 'inventory', { compression: 'zstd' }).command;
  const globalsCommand: Command = { argv: ['pg_dumpall', '--globals-only', '--no-password', '-l', 'postgres'], env: dumpCommand.env ?? {}, secretEnv: dumpCommand.secretEnv ?? {} };
  const globals = await ctx.shell(globalsCommand);
  const dump = await ctx.shell(dumpCommand);
  const zstd = await ctx.shell({ argv: ZSTD_ARGV });
  const script = join(ctx.dir, 'small-dumps.sh');
  await writeFile(script, `${globals.line} > /dev/null\n${dump.line} | ${zstd.line} > /dev/null\n`, { mode: 0o700 });
  // The same, started as the tool starts them: without Debian's pg_wrapper in front (when it is there).
  const directGlobals = await ctx.shell(startedAs(globalsCommand, process.env.PATH ?? ''));
  const directDump = await ctx.shell(startedAs(dumpCommand, process.env.PATH ?? ''));
  const directScript = join(ctx.dir, 'small-dumps-direct.sh');
  await writeFile(directScript, `${directGlobals.line} > /dev/null\n${directDump.line} | ${zstd.line} > /dev/null\n`, { mode: 0o700 });
  const pairs = concurrencies.map((concurrency) => ({
    concurrency,
    dumps: {
      label: `fleet: the dumps only, ×${names.length} at ${concurrency} in parallel`,
      build: () => `seq 1 ${names.length} | xargs -P ${concurrency} -I{} bash ${sh(script)}`,
      env: { ...ctx.baseEnv(), ...globals.env, ...dump.env },
    } satisfies Scenario,
    direct: {
      label: `fleet: the dumps only, started directly, ×${names.length} at ${concurrency} in parallel`,
      build: () => `seq 1 ${names.length} | xargs -P ${concurrency} -I{} bash ${sh(directScript)}`,
      env: { ...ctx.baseEnv(), ...directGlobals.env, ...directDump.env },
    } satisfies Scenario,
    tool: ctx.backup(server, `fleet: backup-all ×${names.length} --concurrency ${concurrency}`, names, {}, [`--concurrency ${concurrency}`]),
  }));
  const results = await ctx.runner.rounds(pairs.flatMap((p) => [p.dumps, p.direct, p.tool]));
  for (const { concurrency, dumps, direct, tool } of pairs) {
    const dumpsS = results.get(dumps)!.stats.wallS;
    const toolStats = results.get(tool)!.stats;
    // The wall time the tool adds, per backup; and per backup in its slot (each of `concurrency` slots runs
    // names/concurrency backups one after the other), i.e. how much longer each backup takes than its dumps.
    const overheadMs = pairedOverheadMs(results.get(dumps)!.walls, results.get(tool)!.walls, names.length);
    ctx.report.fleet.push({
      concurrency,
      dumpsS,
      toolS: toolStats.wallS,
      overheadMs,
      slotOverheadMs: overheadMs * concurrency,
      directDumpsS: results.get(direct)!.stats.wallS,
      directOverheadMs: pairedOverheadMs(results.get(direct)!.walls, results.get(tool)!.walls, names.length),
      rssMiB: toolStats.procs.tool?.maxRssMiB ?? 0,
    });
  }
}
