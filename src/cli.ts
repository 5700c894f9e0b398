// Thin: flags → config → one command function → exit code. Exit codes (design.md): 0 all good; 1 a backup failed;
// 2 bad usage or configuration; 3 could not start; 4 backups fine but the run could not report them (mail, rows).
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { applyEnvFile, loadConfig, type Config } from './config.js';
import { CannotStartError, ConfigError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { BACKUP_TYPES, type BackupType } from './plan.js';
import { runBackups } from './run.js';
import { exitCodeOf, failureCount, type RunSummary } from './summary.js';
import { runAudit } from './commands/audit.js';
import { runCheck } from './commands/check.js';
import { registerRestoreCommands } from './commands/register-restore.js';
import { makeMasker, type Masker } from './util/mask.js';
import { parseDuration } from './util/duration.js';

const durationFlag = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name} expects a duration such as 90, 30s, 10m or 6h` });
        return z.NEVER;
      }
      return ms;
    });

const runFlags = z.object({
  weekly: z.boolean().optional(),
  worker: z.boolean().optional(),
  type: z.enum(BACKUP_TYPES as [BackupType, ...BackupType[]], { message: `--type must be one of ${BACKUP_TYPES.join(', ')}` }).optional(),
  dryRun: z.boolean().optional(),
  json: z.boolean().optional(),
  concurrency: z.coerce.number({ message: '--concurrency expects a number' }).int().min(1).max(64).optional(),
  timeout: durationFlag('--timeout'),
  stallTimeout: durationFlag('--stall-timeout'),
  compress: z.enum(['none', 'gzip', 'zstd'], { message: '--compress must be none, gzip or zstd' }).optional(),
});
type RunFlags = z.infer<typeof runFlags>;

export interface Context {
  config: Config;
  log: Logger;
  mask: Masker;
}

/** The settings (the env file, if any, is already in the environment: see applyEnvFileOption), the log, the masker. */
export function setUp(flags: { json?: boolean | undefined }): Context {
  const config = loadConfig(process.env);
  const mask = makeMasker(config.secrets);
  // With --json, stdout carries only the JSON result; the log goes to stderr.
  const log = createLogger({ level: config.logLevel, mask, fd: flags.json ? 2 : 1 });
  return { config, log, mask };
}

/** SIGTERM/SIGINT abort the run (no new backups, in-flight uploads aborted); a second signal exits at once. */
export function interruptSignal(log: Logger): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    log.warn({ signal }, 'interrupted: aborting in-flight backups, starting no new ones');
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return controller.signal;
}

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
    })),
  });
}

async function backupAction(names: string[], raw: unknown, adminDbOnly = false): Promise<number> {
  const flags: RunFlags = runFlags.parse(raw);
  if (flags.weekly && names.length) throw new ConfigError('--weekly backs up every Weekly container: give no names with it');
  if (flags.type && !names.length) throw new ConfigError('--type goes with container names (e.g. --type User NAME)');
  const ctx = setUp(flags);
  const config: Config = {
    ...ctx.config,
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    ...(flags.timeout ? { timeoutMs: flags.timeout } : {}),
    ...(flags.stallTimeout ? { stallTimeoutMs: flags.stallTimeout } : {}),
    // --compress overrides BACKUP_COMPRESS_POSTGRES/MARIADB/MONGODB for this run.
    ...(flags.compress ? { compression: { postgres: flags.compress, mariadb: flags.compress, mongodb: flags.compress } } : {}),
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
    { log: ctx.log, mask: ctx.mask, signal, print: (line) => process.stdout.write(`${line}\n`) },
  );
  if (flags.json) process.stdout.write(`${summaryJson(summary)}\n`);
  const code = flags.dryRun ? 0 : exitCodeOf(summary);
  ctx.log.info(
    { exitCode: code, failed: failureCount(summary), backups: summary.results.length, ...processUsage() },
    'run finished',
  );
  return code;
}

const envFileOption = () =>
  new Option('--env-file <path>', 'read settings from this KEY=VALUE file, before or after the subcommand (the environment wins; syntax: README)');

/** Puts the --env-file given to the command about to run (or to its parent) into the environment. */
function applyEnvFileOption(action: Command): void {
  const given: string[] = [];
  for (let command: Command | null = action; command; command = command.parent) {
    const path = command.opts<{ envFile?: string }>().envFile;
    if (path) given.unshift(path);
  }
  const paths = [...new Set(given)];
  if (paths.length > 1) throw new ConfigError(`--env-file is given twice (${paths.join(', ')}): give it once`);
  if (paths[0]) applyEnvFile(paths[0]);
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('backup-all')
    .description('Back up the databases of a MyDB installation into S3 (server-side encrypted).')
    .argument('[containers...]', 'back up just these containers, due or not')
    .option('--weekly', 'the Saturday run: Weekly containers only')
    .addOption(new Option('--type <type>', 'backup_type for on-demand runs').choices(BACKUP_TYPES as string[]))
    .option('--dry-run', 'print the plan, the masked commands and the S3 keys; dump, upload and record nothing')
    .option('--concurrency <n>', 'containers backed up at the same time (default BACKUP_CONCURRENCY or 2)')
    .option('--timeout <duration>', 'kill a backup running longer than this (default BACKUP_TIMEOUT or 12h)')
    .option('--stall-timeout <duration>', 'kill a dump that writes nothing for this long (default BACKUP_STALL_TIMEOUT or 10m)')
    .addOption(new Option('--compress <mode>', 'compression of every dump of this run (PostgreSQL, MariaDB, MongoDB)').choices(['none', 'gzip', 'zstd']))
    .option('--worker', 'one of several processes (hosts) sharing this run: claim containers one by one, no run lock')
    .option('--json', 'print a one-line JSON result on stdout (logs go to stderr)')
    .addOption(envFileOption())
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .action(async (names: string[], flags: unknown) => setExitCode(await backupAction(names, flags)));

  program
    .command('admin-db')
    .description("back up the admin database itself (pg_dump -Fc to {prefix}/_admin-db/{folder}/); also part of the nightly run")
    .option('--dry-run', 'print the command and the S3 key; do nothing')
    .option('--json', 'print a one-line JSON result on stdout (logs go to stderr)')
    .action(async (flags: unknown) => setExitCode(await backupAction([], flags, true)));

  program
    .command('audit')
    .description('the start/end audit of every active container; exit 1 if any is out of policy')
    .option('--json', 'one JSON document instead of the table')
    .option('--prom <file>', 'also write a node_exporter textfile with per-container gauges')
    .action(async (flags: { json?: boolean; prom?: string }) => {
      const ctx = setUp({ ...flags, json: true });
      const print = (line: string) => process.stdout.write(`${line}\n`);
      setExitCode(await runAudit(ctx.config, { json: flags.json ?? false, ...(flags.prom ? { prom: flags.prom } : {}) }, print, ctx.mask));
    });

  program
    .command('check')
    .description('validate the configuration and reach the admin DB, the bucket, SMTP and the dump tools')
    .action(async () => {
      const ctx = setUp({});
      setExitCode(await runCheck(ctx.config, ctx.mask, (line) => process.stdout.write(`${line}\n`)));
    });
  registerRestoreCommands(program, setExitCode);

  // --env-file is global: before the subcommand it is the root's option, after it the subcommand's own (added to
  // every subcommand here, so a new one has it too). Applied before any action runs.
  for (const command of program.commands) command.addOption(envFileOption());
  program.hook('preAction', (_program, action) => applyEnvFileOption(action));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof z.ZodError) {
      process.stderr.write(`backup-all: ${err.issues.map((i) => i.message).join('; ')}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`backup-all: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CannotStartError) {
      process.stderr.write(`backup-all: could not start: ${err.message}\n`);
      return 3;
    }
    // Config may not have loaded: mask whatever the environment calls a password, secret or token.
    const secrets = Object.entries(process.env).flatMap(([k, v]) => (/PASSWORD|SECRET|TOKEN|_URI$|_URL$/.test(k) && v ? [v] : []));
    process.stderr.write(`backup-all: unexpected error: ${makeMasker(secrets)((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}
