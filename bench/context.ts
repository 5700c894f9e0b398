/**
 * What every part of the benchmark shares: the rig, the S3 servers, the runner and the report, and the scenarios
 * built the same way for every engine — the dump alone (A0, A), the old way (B), backup-all (C), and the two
 * restores (R_B, R_C).
 */
import { fileURLToPath } from 'node:url';
import type { Command } from '../src/engines/types.js';
import { toolEnv } from '../test/helpers/run-cli.js';
import type { Rig } from '../test/rig/index.js';
import { sh, type RunStats } from './measure.js';
import type { Report } from './report.js';
import type { Runner, Scenario } from './runner.js';
import { objectBytes, type S3Server } from './s3-servers.js';
import { shellCommand, type AwsCli, type ShellCommand } from './shell.js';

export const DEFAULT_BIN = fileURLToPath(new URL('../bin/backup-all', import.meta.url));
export const BENCH_DB = 'benchdata';
export const BUCKET = 'mydb-bench';

export interface Settings {
  /** Size of each generated data set (see --size-gib). */
  dumpBytes: number;
  runs: number;
  /** The CLI that C runs. */
  bin: string;
  /** Extra environment for every C run. */
  env: Record<string, string>;
  /** Whether to measure the restores (R_B, R_C). */
  restores: boolean;
}

export const say = (line = ''): void => void process.stdout.write(`${line}\n`);
export const note = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

export class BenchContext {
  constructor(
    readonly settings: Settings,
    readonly rig: Rig,
    /** Private temporary directory (config files with passwords, mode 0600). */
    readonly dir: string,
    readonly aws: AwsCli | undefined,
    readonly servers: S3Server[],
    readonly adminDb: string,
    readonly runner: Runner,
    readonly report: Report,
  ) {}

  /** The S3 server the restores read from: the first that keeps data, when restores are measured. */
  restoreSource(): S3Server | undefined {
    return this.settings.restores ? this.servers.find((s) => s.keepsData) : undefined;
  }

  baseEnv(): Record<string, string> {
    return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', TZ: 'UTC' };
  }

  /** The CLI's environment: the rig's admin DB, the bucket on `server`, defaults for everything not varied. */
  toolEnv(server: S3Server, extra: Record<string, string> = {}): Record<string, string> {
    const env = toolEnv(this.rig, {
      adminDb: this.adminDb,
      bucket: BUCKET,
      extra: { PATH: process.env.PATH ?? '', AWS_ENDPOINT_URL_S3: server.endpoint, ...this.settings.env, ...extra },
    });
    delete env.BACKUP_PROGRESS_INTERVAL; // the tests' 1 s; the default (30 s) here
    return env;
  }

  shell(command: Command): Promise<ShellCommand> {
    return shellCommand(command, this.dir);
  }

  /** The dump once, not counted: the servers' background work after a bulk load out of the way. Returns its bytes. */
  async warmUp(label: string, dump: ShellCommand): Promise<number> {
    const out = await this.runner.untimed(`${label}: warm-up, dump | wc -c`, `${dump.line} | wc -c`, { ...this.baseEnv(), ...dump.env });
    return Number(out.trim());
  }

  /** A0 / A: the dump alone into /dev/null. */
  dumpOnly(label: string, dump: ShellCommand): Scenario {
    return { label, build: (timed) => `${timed('dump', dump.line)} > /dev/null`, env: { ...this.baseEnv(), ...dump.env } };
  }

  /** AZ: the dump through the pipeline's compressor into /dev/null: C's own processes, without node and S3. */
  dumpCompressed(label: string, dump: ShellCommand, compressor: ShellCommand): Scenario {
    return {
      label,
      build: (timed) => `${timed('dump', dump.line)} | ${timed('compress', compressor.line)} > /dev/null`,
      env: { ...this.baseEnv(), ...dump.env },
    };
  }

  /** B: the dump piped into `aws s3 cp -` (the old tool's way); undefined without the aws CLI. */
  oldWay(server: S3Server, label: string, dump: ShellCommand, key: (run: number) => string, keepLast: boolean): Scenario | undefined {
    const aws = this.aws;
    if (!aws) return undefined;
    return {
      label,
      server,
      build: (timed, run) => `${timed('dump', dump.line)} | ${timed('upload', aws.upload(server.endpoint, BUCKET, key(run)))}`,
      env: { ...this.baseEnv(), ...aws.env(), ...dump.env },
      stored: (_stats, run) => objectBytes(server, BUCKET, key(run)),
      keepLast,
    };
  }

  /** C: `backup-all --json NAMES`; its result is checked after every run. */
  backup(server: S3Server, label: string, names: string[], extraEnv: Record<string, string> = {}, flags: string[] = [], keepLast = false): Scenario {
    return {
      label,
      server,
      build: (timed) => `${timed('tool', `${sh(process.execPath)} ${sh(this.settings.bin)} --json ${flags.join(' ')} ${names.map(sh).join(' ')}`)} 2>/dev/null`,
      env: this.toolEnv(server, extraEnv),
      check: (stats) => void toolResult(label, stats),
      stored: async (stats) => toolResult(label, stats).backups.reduce((sum, b) => sum + b.objects.reduce((s, o) => s + o.bytes, 0), 0),
      keepLast,
    };
  }

  /** R_B: `aws s3 cp s3://… - | LOADER`, the old way back. */
  awsRestore(label: string, server: S3Server, key: string, loader: ShellCommand, around: RestoreChecks): Scenario | undefined {
    const aws = this.aws;
    if (!aws) return undefined;
    return {
      label,
      server,
      build: (timed) => `${timed('download', aws.download(server.endpoint, BUCKET, key))} | ${timed('load', loader.line)}`,
      env: { ...this.baseEnv(), ...aws.env(), ...loader.env },
      ...around,
    };
  }

  /** R_C: `backup-all restore …` with its defaults (every object checked against the manifest's SHA-256). */
  toolRestore(label: string, server: S3Server, args: string[], around: RestoreChecks): Scenario {
    return {
      label,
      server,
      build: (timed) => `${timed('tool', `${sh(process.execPath)} ${sh(this.settings.bin)} ${args.map(sh).join(' ')}`)}`,
      env: this.toolEnv(server),
      ...around,
    };
  }
}

/** A restore's untimed set-up (an empty target) and check (every table came back whole). */
export interface RestoreChecks {
  before: () => Promise<void>;
  check: () => Promise<void>;
}

export interface ToolResult {
  ok: boolean;
  backups: { name: string; ok: boolean; error?: string; backupId: string; folder: string; bytes: number; objects: { key: string; bytes: number }[] }[];
}

/** The CLI's --json line; throws when any backup failed. */
export function toolResult(label: string, stats: RunStats): ToolResult {
  const result = JSON.parse(stats.stdout.trim().split('\n').at(-1) ?? '{}') as ToolResult;
  const failed = (result.backups ?? []).filter((b) => !b.ok);
  if (!result.ok || failed.length) throw new Error(`${label}: backup failed: ${failed.map((b) => b.error).join('; ') || stats.stdout}`);
  return result;
}
