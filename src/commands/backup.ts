// The backup command (`backup-all [NAME…]`, `--weekly`, `--worker`, `admin-db`): its flags into a run, the run's
// summary into the --json line and the exit code.
import type { Config } from '../config.js';
import { perEngine } from '../engines/index.js';
import { ConfigError } from '../errors.js';
import { runBackups } from '../run/run.js';
import { exitCodeOf, failureCount, type RunSummary } from '../run/summary.js';
import { describeChange } from '../watch/compare.js';
import { interruptSignal, print, setUp } from './context.js';
import { runFlags, type RunFlags } from './flags.js';

/** The tool's own CPU and memory (not its children's: the dumps and zstd), for capacity planning. */
function processUsage(): { cpuS: number; maxRssMiB: number } {
  const usage = process.resourceUsage();
  return { cpuS: Number(((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(2)), maxRssMiB: Number((usage.maxRSS / 1024).toFixed(1)) };
}

function summaryJson(s: RunSummary): string {
  return JSON.stringify({
    ok: exitCodeOf(s) === 0,
    process: processUsage(),
    kind: s.kind,
    startedAt: s.startedAt.toISOString(),
    finishedAt: s.finishedAt.toISOString(),
    problems: s.problems,
    notBackedUp: s.missed,
    backedUpByAnotherRun: s.covered,
    abandoned: s.abandoned,
    cleanup: s.cleanup,
    backups: s.results.map((r) => ({
      name: r.name,
      id: r.cId,
      backupType: r.backupType,
      backupId: r.backupId,
      folder: r.folder,
      ok: r.ok,
      error: r.errMsg || undefined,
      url: r.url,
      bytes: r.bytes,
      durationMs: r.durationMs,
      objects: r.objects,
      manifest: r.manifest,
      ...(r.leftBehind.length ? { leftBehind: r.leftBehind } : {}),
      // Suspicious changes since the earlier backups (the backup itself is good).
      changes: r.ok ? s.watch?.find((w) => w.folder === r.folder)?.changes.map(describeChange) : undefined,
    })),
  });
}

export async function runBackupCommand(names: string[], raw: unknown, adminDbOnly = false): Promise<number> {
  const flags: RunFlags = runFlags.parse(raw);
  if (flags.weekly && names.length) throw new ConfigError('--weekly backs up every Weekly container: give no names with it');
  if (flags.type && !names.length) throw new ConfigError('--type goes with container names (e.g. --type User NAME)');
  const ctx = setUp(flags);
  const compress = flags.compress;
  const config: Config = {
    ...ctx.config,
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    ...(flags.timeout ? { timeoutMs: flags.timeout } : {}),
    ...(flags.stallTimeout ? { stallTimeoutMs: flags.stallTimeout } : {}),
    // --compress overrides every engine's BACKUP_COMPRESS_{KEY} for this run.
    ...(compress ? { compression: perEngine(() => compress) } : {}),
  };
  const signal = interruptSignal(ctx.log);
  const summary = await runBackups(
    config,
    {
      kind: adminDbOnly ? 'admin-db' : names.length ? 'named' : flags.weekly ? 'weekly' : 'nightly',
      names,
      ...(flags.type ? { backupType: flags.type } : {}),
      dryRun: flags.dryRun ?? false,
      worker: flags.worker ?? false,
    },
    { log: ctx.log, mask: ctx.mask, signal, print },
  );
  if (flags.json) process.stdout.write(`${summaryJson(summary)}\n`);
  const code = flags.dryRun ? 0 : exitCodeOf(summary);
  ctx.log.info(
    { exitCode: code, failed: failureCount(summary), backups: summary.results.length, ...processUsage() },
    'run finished',
  );
  return code;
}
