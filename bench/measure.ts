/**
 * Measuring one run of a shell pipeline: wall time, and per watched process its CPU time and peak RSS (GNU time,
 * wrapped around just that process), plus the CPU time of the S3 server and of the whole machine over the run (so what the
 * database servers spent shows as the remainder).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export const GNU_TIME = '/usr/bin/time';

export interface ProcStats {
  /** User + system CPU seconds (for a process that waits for its children, theirs included). */
  cpuS: number;
  /** Peak resident set size, MiB (ru_maxrss: the largest single process among it and its waited-for children). */
  maxRssMiB: number;
}

export interface RunStats {
  wallS: number;
  procs: Record<string, ProcStats>;
  /** CPU seconds the S3 server (moto, or null-s3) spent during the run. */
  serverCpuS: number;
  /** CPU seconds the whole machine spent during the run (all processes, all cores). */
  machineCpuS: number;
  /** CPU seconds backup-all reports for itself in its --json result (without its children). */
  toolSelfCpuS?: number;
  stdout: string;
}

/** A process line for a script, run under GNU time so its CPU and peak RSS land in `label`'s stats. */
export type Timed = (label: string, commandLine: string) => string;

const TICK_S = 0.01; // USER_HZ is 100 on Linux

/** Quotes one argument for bash. */
export function sh(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function processCpuS(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // Fields after the command (which may hold spaces) start at ') '; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_S;
  } catch {
    return 0;
  }
}

function machineCpuS(): number {
  const [cpu = ''] = readFileSync('/proc/stat', 'utf8').split('\n');
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const [user, nice, system, , , irq, softirq, steal] = cpu.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * TICK_S;
}

export interface RunOptions {
  env: Record<string, string>;
  /** The pid of the S3 server, whose CPU time is sampled around the run. */
  serverPid?: number;
  timeoutMs?: number;
}

/**
 * Runs `build(timed)` as a bash script (pipefail on); fails when it exits non-zero. Only what the script wraps with
 * `timed` gets per-process stats.
 */
export async function measure(build: (timed: Timed) => string, opts: RunOptions): Promise<RunStats> {
  const dir = await mkdtemp('/tmp/mydb-bench-time-');
  const labels: string[] = [];
  const timed: Timed = (label, commandLine) => {
    labels.push(label);
    return `${GNU_TIME} -f '%U %S %M' -o ${sh(join(dir, `${label}.time`))} ${commandLine}`;
  };
  const script = `set -euo pipefail\n${build(timed)}`;
  try {
    const serverBefore = processCpuS(opts.serverPid);
    const machineBefore = machineCpuS();
    const started = performance.now();
    const result = await execa('bash', ['-c', script], {
      env: opts.env,
      extendEnv: false,
      reject: false,
      timeout: opts.timeoutMs ?? 6 * 3600_000,
    });
    const wallS = (performance.now() - started) / 1000;
    const machine = machineCpuS() - machineBefore;
    const server = processCpuS(opts.serverPid) - serverBefore;
    if (result.exitCode !== 0) {
      const tail = `${result.stderr}\n${result.stdout}`.trim().split('\n').slice(-20).join('\n');
      throw new Error(`benchmark command failed (exit ${result.exitCode}):\n${script}\n${tail}`);
    }
    const procs: Record<string, ProcStats> = {};
    for (const label of labels) {
      // GNU time prefixes "Command exited with non-zero status N" when it does; the figures are the last line.
      const lines = (await readFile(join(dir, `${label}.time`), 'utf8')).trim().split('\n');
      const [user = 0, system = 0, rssKiB = 0] = (lines.at(-1) ?? '').split(' ').map(Number);
      procs[label] = { cpuS: user + system, maxRssMiB: rssKiB / 1024 };
    }
    // backup-all --json: its result line says what the tool itself (without its children) spent.
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    const selfCpu = last.startsWith('{"ok"') ? (JSON.parse(last) as { process?: { cpuS?: number } }).process?.cpuS : undefined;
    return { wallS, procs, serverCpuS: server, machineCpuS: machine, stdout: result.stdout, ...(selfCpu !== undefined ? { toolSelfCpuS: selfCpu } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function requireGnuTime(): void {
  if (!existsSync(GNU_TIME)) {
    throw new Error(`${GNU_TIME} (GNU time) is needed to measure peak RSS: apt-get install time (scripts/setup.sh installs it)`);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The medians of each figure over several runs (per-process figures by label). */
export function medianStats(runs: RunStats[]): RunStats {
  const procs: Record<string, ProcStats> = {};
  for (const label of Object.keys(runs[0]?.procs ?? {})) {
    procs[label] = {
      cpuS: median(runs.map((r) => r.procs[label]?.cpuS ?? 0)),
      maxRssMiB: median(runs.map((r) => r.procs[label]?.maxRssMiB ?? 0)),
    };
  }
  return {
    wallS: median(runs.map((r) => r.wallS)),
    procs,
    serverCpuS: median(runs.map((r) => r.serverCpuS)),
    machineCpuS: median(runs.map((r) => r.machineCpuS)),
    ...(runs.every((r) => r.toolSelfCpuS !== undefined) ? { toolSelfCpuS: median(runs.map((r) => r.toolSelfCpuS ?? 0)) } : {}),
    stdout: runs.at(-1)?.stdout ?? '',
  };
}
