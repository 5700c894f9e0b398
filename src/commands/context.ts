// What every command starts from: the settings (with --env-file applied), the log, the masker, the interrupt signal.
import { Command, Option } from 'commander';
import { applyEnvFile, loadConfig, type Config } from '../config.js';
import { BackupArchived, CannotStartError, ConfigError, RestoreFailed } from '../errors.js';
import { describeS3Error } from '../storage/s3-errors.js';
import { createLogger, type Logger } from '../logger.js';
import { makeMasker, type Masker } from '../util/mask.js';

export interface Context {
  config: Config;
  log: Logger;
  mask: Masker;
}

/** Human-readable output (stdout). */
export const print = (line: string): void => void process.stdout.write(`${line}\n`);

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

export const envFileOption = (): Option =>
  new Option('--env-file <path>', 'read settings from this KEY=VALUE file, before or after the subcommand (the environment wins; syntax: README)');

/** Puts the --env-file given to the command about to run (or to its parent) into the environment. */
export function applyEnvFileOption(action: Command): void {
  const given: string[] = [];
  for (let command: Command | null = action; command; command = command.parent) {
    const path = command.opts<{ envFile?: string }>().envFile;
    if (path) given.unshift(path);
  }
  const paths = [...new Set(given)];
  if (paths.length > 1) throw new ConfigError(`--env-file is given twice (${paths.join(', ')}): give it once`);
  if (paths[0]) applyEnvFile(paths[0]);
}

/** What a command that reads backups is given: its log, masker, output and interrupt. */
export interface CommandIo {
  log: Logger;
  mask: Masker;
  /** Human-readable output (stdout). */
  print: (line: string) => void;
  /** SIGTERM/SIGINT: stop the restore (its command is killed, the restore fails). */
  signal: AbortSignal;
}

/** Reads the container's backups, turning an unreachable bucket into "could not start" (exit 3). */
export async function orCannotStart<T>(config: Config, what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CannotStartError || err instanceof RestoreFailed || err instanceof BackupArchived) throw err;
    throw new CannotStartError(`cannot list s3://${config.s3.bucket}/${config.s3.prefix}/: ${describeS3Error(err)}`);
  }
}
