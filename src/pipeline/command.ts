// Runs one engine Command as a child process: secrets through env or a 0600 temp file, stdout streamed (never
// buffered), a bounded stderr tail, the whole process group killed on demand.
import { closeSync, existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import type { Command } from '../engines/types.js';
import { CommandFailed, CommandNotStarted, errorText } from '../errors.js';
import { MASK, type Masker } from '../util/mask.js';
import { startedAs } from './pg-wrapper.js';
import { makeFifos, openFifoBetweenChildren, openFifoReader, type PipeReader } from './pipe-reader.js';

const STDERR_TAIL_BYTES = 4096;
const KILL_GRACE_MS = 3000;
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

export interface RunningCommand<Stdout = Readable> {
  pid: number | undefined;
  /**
   * A stream, or with `stdout: 'reader'` a PipeReader (reused memory: for the bytes that get stored). A stream must be
   * read or piped at once, in the same turn of the event loop: execa (buffer: false) drains what nobody reads.
   */
  stdout: Stdout;
  stdin: Writable | null;
  /**
   * With `stdin: 'fifo'`: the write end of a pipe into the child's stdin, for another child's stdout, so that the
   * bytes go from one to the other through the kernel alone. `close()` it once that child has started (or failed to).
   */
  stdinPipe?: { fd: number; close(): void };
  /** Resolves when the process exits 0; rejects with CommandFailed (masked, with the stderr tail) otherwise. */
  finished: Promise<void>;
  /** Kills the whole process group (TERM, then KILL); `finished` then rejects with `reason`. */
  kill(reason: string): void;
}

const quote = (arg: string) => (/^[\w@%+=:,./<>-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** The stderr line that says what went wrong: the last one mentioning an error (tools print progress first). */
export function telltaleLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.reverse().find((l) => /error|fail|fatal|denied|refused|could not|cannot/i.test(l)) ?? lines[0];
}

/** The command as a shell line with every secret masked: for logs, the dry run and backups.command. */
export function renderCommand(command: Command, mask: Masker): string {
  const env = Object.entries(command.env ?? {}).map(([k, v]) => `${k}=${quote(v)}`);
  const secretEnv = Object.keys(command.secretEnv ?? {}).map((k) => `${k}=${MASK}`);
  return mask([...env, ...secretEnv, ...argvWithConfigFile(command, '<0600-temp-file>').map(quote)].join(' '));
}

/** argv with the config file's arguments where the program expects them (last, or right after the program name). */
function argvWithConfigFile(command: Command, path: string): Command['argv'] {
  const { argv, configFile } = command;
  if (!configFile) return [...argv];
  const [program, ...args] = argv;
  return configFile.position === 'first' ? [program, ...configFile.args(path), ...args] : [...argv, ...configFile.args(path)];
}

function childEnv(command: Command): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...command.env, ...command.secretEnv };
}

/** `mydb-backup-{pid}-…`: whose it is, so a later run can remove what a killed process left (removeStaleTempDirs). */
const TEMP_PREFIX = 'mydb-backup-';

/**
 * Removes the temporary directories of processes that are gone (killed before they could clean up: a password file
 * may be in one). Returns what it removed. Never throws.
 */
export async function removeStaleTempDirs(): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (!pid || processIsAlive(Number(pid))) continue;
    await rm(join(tmpdir(), entry), { recursive: true, force: true }).then(
      () => removed.push(join(tmpdir(), entry)),
      () => {},
    );
  }
  return removed;
}

/** A directory private to this process (0700) in the temporary directory, for `what`; a failure says where and why. */
async function privateTempDir(what: string): Promise<string> {
  try {
    return await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  } catch (err) {
    throw new Error(`cannot make a private directory in ${tmpdir()} (TMPDIR) for ${what}: ${errorText(err)}`);
  }
}

/**
 * FIFOs made ahead, FIFO_BATCH at a time by one `mkfifo` process, in a directory private to this process (0700),
 * removed at exit (after a kill, by the next run: removeStaleTempDirs). Why: a process started from node blocks its
 * event loop for as long as fork takes to copy node's page tables, 7 to 25 ms here (BENCHMARKS.md, "The fleet
 * overhead, found"); a FIFO per dump made that one process more per database backed up. Each is taken once: opened,
 * its name removed at once (pipe-reader.ts), never reused.
 */
const FIFO_BATCH = 16;

class FifoStock {
  private dir: string | undefined;
  private free: string[] = [];
  private made = 0;
  private refilling: Promise<void> | undefined;

  async take(): Promise<string> {
    // A long run's directory may have been cleaned away under it (tmp cleaners): start a new one.
    if (this.dir && !this.refilling && !existsSync(this.dir)) {
      this.dir = undefined;
      this.free = [];
    }
    while (this.free.length === 0) {
      this.refilling ??= this.refill().finally(() => (this.refilling = undefined));
      await this.refilling;
    }
    return this.free.shift()!;
  }

  private async refill(): Promise<void> {
    if (!this.dir) {
      const dir = await privateTempDir('the FIFOs that dumps and restores stream through');
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.dir = dir;
    }
    const names = Array.from({ length: FIFO_BATCH }, () => `fifo-${(this.made += 1)}`);
    try {
      this.free.push(...(await makeFifos(this.dir, names)));
    } catch (err) {
      const { code, stderr } = err as { code?: string; stderr?: unknown };
      const why = code === 'ENOENT' ? 'mkfifo (coreutils) is not on PATH' : (typeof stderr === 'string' && stderr.split('\n')[0]) || errorText(err);
      throw new Error(`cannot make FIFOs in a private directory under ${tmpdir()}: ${why}`);
    }
  }
}

const fifos = new FifoStock();

/**
 * The process groups of the children still running. However this process exits (a second Ctrl-C is process.exit),
 * they are killed first: left running, a restore tool would read the end of its input when our ends of its pipes
 * close, and could take a cut stream for a whole one.
 */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const group of liveGroups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Why no FIFO can be made for a dump (TMPDIR not writable, mkfifo missing), or undefined: for `check`. */
export async function fifoProblem(): Promise<string | undefined> {
  try {
    rmSync(await fifos.take());
    return undefined;
  } catch (err) {
    return errorText(err);
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface StartOptions {
  mask: Masker;
  /** 'fifo': a pipe whose write end another child gets (RunningCommand.stdinPipe). */
  stdin?: 'pipe' | 'ignore' | 'fifo';
  what?: string;
  /**
   * 'reader' for a PipeReader (see pipe-reader.ts), 'stream' (default) for a Readable, `{ fd }` for a file descriptor
   * the child writes to (another child's stdinPipe; the caller closes it).
   */
  stdout?: 'stream' | 'reader' | { fd: number };
}

export async function startCommand(command: Command, opts: StartOptions & { stdout: 'reader' }): Promise<RunningCommand<PipeReader>>;
export async function startCommand(command: Command, opts: StartOptions & { stdout: { fd: number } }): Promise<RunningCommand<null>>;
export async function startCommand(command: Command, opts: StartOptions & { stdout?: 'stream' }): Promise<RunningCommand>;
export async function startCommand(command: Command, opts: StartOptions): Promise<RunningCommand<Readable | PipeReader | null>> {
  let argv = command.argv;
  // Private to this process (0700): the config file with the password. (The FIFOs: FifoStock.)
  const tempDir = command.configFile ? await privateTempDir(`${command.argv[0]}'s configuration file`) : undefined;
  const removeTempDir = async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
  let fifo: ReturnType<typeof openFifoReader> | undefined;
  let inPipe: ReturnType<typeof openFifoBetweenChildren> | undefined;
  try {
    if (command.configFile && tempDir) {
      const path = join(tempDir, 'client.cnf');
      await writeFile(path, command.configFile.content, { mode: 0o600 });
      argv = argvWithConfigFile(command, path);
    }
    if (opts.stdin === 'fifo') inPipe = openFifoBetweenChildren(await fifos.take());
    if (opts.stdout === 'reader') fifo = openFifoReader(await fifos.take());
  } catch (err) {
    if (inPipe) for (const fd of [inPipe.readFd, inPipe.writeFd]) closeSync(fd);
    await removeTempDir();
    throw err;
  }
  const started = startedAs({ ...command, argv }, process.env.PATH ?? '');
  const [program = '', ...args] = started.argv;
  const stdout = fifo ? fifo.writeFd : typeof opts.stdout === 'object' ? opts.stdout.fd : 'pipe';
  const child = execa(program, args, {
    env: childEnv(started),
    extendEnv: false,
    // File descriptor numbers are passed on to child_process as they are; execa's types only admit them in arrays.
    stdin: (inPipe ? inPipe.readFd : opts.stdin ?? 'ignore') as 'pipe',
    stdout: stdout as 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Its own process group, so a kill reaches pg_dump's children (and a shell's) too.
    detached: true,
    stripFinalNewline: false,
  });
  // The child has its copy of the write end; ours must go, or the reader never sees the end. Its read end: the same.
  if (fifo) closeSync(fifo.writeFd);
  if (inPipe) closeSync(inPipe.readFd);
  let stdinPipe: RunningCommand['stdinPipe'];
  if (inPipe) {
    const fd = inPipe.writeFd;
    let open = true;
    stdinPipe = {
      fd,
      close: () => {
        if (open) closeSync(fd);
        open = false;
      },
    };
  }

  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL_BYTES);
  });

  let killReason: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const sent = new Set<string>();
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    sent.add(signal);
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  if (child.pid !== undefined) liveGroups.add(child.pid);
  /** The signals we had sent when the leader exited: a signal that ended it and is not among them came from elsewhere. */
  let sentBeforeExit: ReadonlySet<string> = sent;
  child.once('exit', () => {
    sentBeforeExit = new Set(sent);
    // What a kill left of its process group (a child that ignores SIGTERM) goes now: it may hold the output pipes
    // (execa would wait for them) or an input the caller is about to close.
    if (killReason) signalGroup('SIGKILL');
  });
  // Named as the command names it (pg_dump), not by the file started in its place.
  const what = opts.what ?? command.argv[0];

  const finished = (async () => {
    try {
      const result = await child;
      if (killTimer) clearTimeout(killTimer);
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      // A signal nobody here sent (the OOM killer's) is what ended it, even if we were stopping it. SIGPIPE is ours
      // too: kill() closes its stdout.
      const foreign = result.signal !== undefined && result.signal !== 'SIGPIPE' && !sentBeforeExit.has(result.signal);
      const stderrTail = opts.mask(tail.trim());
      if (killReason && !foreign) throw new CommandFailed(`${what} ${killReason}`, stderrTail);
      if (result.exitCode === 0) return;
      if (result.exitCode === undefined && result.signal === undefined) {
        throw new CommandNotStarted(`${what} could not start: ${opts.mask(result.originalMessage || result.shortMessage || 'unknown error')}`, stderrTail);
      }
      const stopping = killReason ? `, which this tool did not send (while it ${killReason})` : '';
      const how = result.signal ? `was killed by ${result.signal}${stopping}` : `exited with code ${result.exitCode}`;
      const line = telltaleLine(stderrTail);
      throw new CommandFailed(`${what} ${how}${line ? `: ${line}` : ''}`, stderrTail, result.signal);
    } finally {
      await removeTempDir();
    }
  })();
  // The caller may only look at `finished` later; never let it count as unhandled meanwhile.
  finished.catch(() => {});

  return {
    pid: child.pid,
    stdout: fifo ? fifo.reader : typeof opts.stdout === 'object' ? null : (child.stdout as Readable),
    stdin: child.stdin,
    ...(stdinPipe ? { stdinPipe } : {}),
    finished,
    kill(reason: string) {
      // Its output is not wanted any more. Left unread in its pipe (zstd -d's, when the restore tool failed), it would
      // never end, and `finished`, which waits for that end, would never settle.
      child.stdout?.destroy();
      if (killReason || child.exitCode !== null) return;
      killReason = reason;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}

/** Runs a short command (a query through a client program) and returns its stdout; fails like a dump would. */
export async function captureCommand(command: Command, opts: { mask: Masker; timeoutMs: number; what?: string }): Promise<string> {
  const running = await startCommand(command, opts);
  const chunks: Buffer[] = [];
  let size = 0;
  running.stdout.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > 16 * 1024 * 1024) running.kill('printed more than 16 MiB');
    else chunks.push(chunk);
  });
  const timer = setTimeout(() => running.kill(`did not finish within ${Math.round(opts.timeoutMs / 1000)} s`), opts.timeoutMs);
  try {
    await running.finished;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
