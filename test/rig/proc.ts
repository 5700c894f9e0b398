/** Running tools and long-lived server processes, as another OS user when we are root. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { onEmergencyExit } from './cleanup.js';
import { errorMessage } from './wait.js';

export interface Account {
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The account to run a server as: the system user `name` when we are root (PostgreSQL refuses to run as root),
 * undefined (= ourselves) otherwise.
 */
export function runAs(name: string): Account | undefined {
  if (!isRoot()) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (!entry) throw new Error(`system user '${name}' does not exist; it is needed to run its server as root`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** mkdir -p, mode 755 (other users must traverse it), owned by `owner` when given. */
export async function ownedDir(path: string, owner?: Account): Promise<string> {
  await mkdir(path, { recursive: true });
  await chmod(path, 0o755);
  if (owner) await chown(path, owner.uid, owner.gid);
  return path;
}

/** Absolute path of a program: first on PATH, then in `extraDirs` (sbin dirs are not on every PATH). */
export function findBinary(name: string, extraDirs: string[] = []): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  const found = dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
  if (!found) throw new Error(`${name} not found on PATH or in ${extraDirs.join(', ') || '(nothing else)'}`);
  return found;
}

export interface ToolOptions {
  as?: Account;
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion; returns stdout (final newline kept); throws with the stderr tail on failure. */
export async function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  const result = await execa(cmd, args, {
    uid: opts.as?.uid,
    gid: opts.as?.gid,
    cwd: opts.cwd,
    env: opts.env,
    input: opts.input ?? '',
    timeout: opts.timeoutMs ?? 60_000,
    stripFinalNewline: false,
    reject: false,
  });
  if (result.failed) {
    // shortMessage names the command and how it failed; secrets never go in argv (env or stdin instead).
    const output = (result.stderr || result.stdout).trim().split('\n').slice(-15).join('\n');
    throw new Error(`${(result.shortMessage ?? `${cmd} failed`).split('\n')[0]}\n${output}`);
  }
  return result.stdout;
}

export interface ServerProcess {
  readonly pid: number;
  running(): boolean;
  /** Signals the process group, waits for the exit; SIGKILL after timeoutMs. No-op when already gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  as?: Account;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Written with the pid (and removed at exit), for the reaper; servers that write their own need none. */
  pidFile?: string;
  /** Set over this process's environment. */
  env?: Record<string, string>;
}

/**
 * Starts a long-running server in its own process group with output to a log file. It does not keep this
 * process alive; it is killed if this process exits without stopping it.
 */
export function spawnServer(cmd: string, args: string[], opts: SpawnOptions): ServerProcess {
  const log = openSync(opts.logFile, 'a');
  const child = (() => {
    try {
      return spawn(cmd, args, {
        stdio: ['ignore', log, log],
        detached: true,
        cwd: opts.cwd,
        uid: opts.as?.uid,
        gid: opts.as?.gid,
        ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      });
    } finally {
      closeSync(log);
    }
  })();
  const pid = child.pid ?? -1;
  let alive = child.pid !== undefined;
  if (alive && opts.pidFile) writeFileSync(opts.pidFile, `${pid}\n`);
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid <= 0) return; // never kill(-1): that would signal every process we may signal
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  const forget = alive ? onEmergencyExit(() => signalGroup('SIGKILL')) : () => {};
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      console.error(`[rig] ${cmd}: ${errorMessage(e)}`);
      resolve();
    });
  }).then(() => {
    alive = false;
    forget();
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
  });
  child.unref();

  return {
    pid,
    running: () => alive,
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (!alive) return;
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
