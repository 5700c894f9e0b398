// The orchestrator, readable as the design: take the run lock → read the active containers → plan → back them up
// with bounded concurrency, each claimed with its own lock → summarise → mail. cli.ts turns the summary into an
// exit code.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AdminLocks } from './admin-db/locks.js';
import { connectAdminDb, type AdminDb } from './admin-db/pool.js';
import { activeContainers, insertBackupRow, startedInRun, type BackupRow } from './admin-db/queries.js';
import type { Config } from './config.js';
import { CannotStartError, ConfigError } from './errors.js';
import { verifySample } from './commands/verify.js';
import { sendMail } from './notify/email.js';
import { pingFinish, pingStart } from './notify/ping.js';
import { buildCouldNotStartMail, buildSummaryMail, type MailContent } from './notify/summary-mail.js';
import { runBackupJob, type BackupDeps, type BackupJob, type BackupResult } from './pipeline/backup-job.js';
import { renderCommand } from './pipeline/command.js';
import { adminDbJob, containerJob } from './pipeline/jobs.js';
import { planRun, type BackupType, type RunKind } from './plan.js';
import { backupFolder, createS3Client } from './storage/s3.js';
import type { RunSummary, SummaryKind } from './summary.js';
import type { Masker } from './util/mask.js';
import { formatBackupId } from './util/time.js';

export interface RunOptions {
  kind: RunKind | 'admin-db';
  names: string[];
  backupType?: BackupType;
  dryRun: boolean;
  /** One of several processes sharing tonight's run: no run lock, claim containers one by one. */
  worker: boolean;
}

export interface RunIo {
  log: Logger;
  mask: Masker;
  /** Aborted on SIGTERM/SIGINT: no new backups start, in-flight ones abort. */
  signal: AbortSignal;
  /** Where --dry-run prints its plan. */
  print: (line: string) => void;
}

type Skipped = RunSummary['skipped'];

export async function runBackups(config: Config, opts: RunOptions, io: RunIo): Promise<RunSummary> {
  const startedAt = new Date();
  let locks: AdminLocks | undefined;
  let db: AdminDb | undefined;
  try {
    try {
      locks = await AdminLocks.open(config.adminDbUrl, opts.worker ? `${opts.kind} worker` : opts.kind, io.mask);
      db = await connectAdminDb(config.adminDbUrl, io.mask);
      // Named (on-demand) runs may overlap a scheduled run; the per-container claims keep them apart.
      if (!opts.dryRun && !opts.worker && opts.kind !== 'named') await locks.lockRun(opts.kind);
    } catch (err) {
      if (err instanceof CannotStartError && !opts.dryRun) await mailCouldNotStart(config, opts.kind, err.message, io);
      throw err;
    }
    const { jobs, skipped } = await planJobs(db, config, opts, startedAt, io.mask);
    io.log.info(
      { kind: opts.kind, due: jobs.map((j) => j.name), skipped: skipped.length, concurrency: config.concurrency, worker: opts.worker },
      `${jobs.length} backups planned`,
    );
    if (opts.dryRun) {
      await printPlan(jobs, skipped, config, io);
      return summaryOf(opts.kind, startedAt, [], skipped, [], false);
    }

    const problems: string[] = [];
    await pingStart(config, io.log);
    const client = createS3Client(config.s3);
    const deps: BackupDeps = { config, client, mask: io.mask, log: io.log, signal: io.signal, recordRow: rowRecorder(db, io, problems) };
    const runDay = formatBackupId(startedAt).slice(0, 10);
    const claimed = async (job: BackupJob): Promise<BackupResult | undefined> => {
      const skip = await claimOrSkip(job, locks!, db!, opts.worker, runDay, io.log);
      if (skip) {
        skipped.push({ name: job.name, reason: skip });
        return undefined;
      }
      try {
        return await runBackupJob(job, deps);
      } finally {
        await locks!.release(job.cId ?? 0);
      }
    };
    const outcomes = await runPool(jobs, config.concurrency, claimed, io.signal);
    client.destroy();
    const results = outcomes.filter((r): r is BackupResult => r !== undefined);
    const notStarted = jobs.length - outcomes.length;
    if (notStarted > 0) problems.push(`interrupted: ${notStarted} planned backups were not started`);
    const summary = summaryOf(opts.kind, startedAt, results, skipped, problems, io.signal.aborted);
    if (opts.kind === 'nightly' && !io.signal.aborted) {
      summary.verification = await verifySample(config, results, { log: io.log, mask: io.mask, signal: io.signal, db });
      // A test restore that failed means a backup may not come back: the run must not look clean.
      const headline = summary.verification[0] ?? '';
      if (/FAILED|could not run/.test(headline)) problems.push(headline);
    }
    await mailSummary(config, summary, io);
    await pingFinish(config, summary, io.log);
    return summary;
  } finally {
    await db?.end().catch(() => {});
    await locks?.close();
  }
}

/** Containers due in this run (plus the admin DB's own backup in the nightly run) as jobs. */
async function planJobs(db: AdminDb, config: Config, opts: RunOptions, now: Date, mask: Masker): Promise<{ jobs: BackupJob[]; skipped: Skipped }> {
  if (opts.kind === 'admin-db') return { jobs: [adminDbJob(config)], skipped: [] };
  const plan = planRun({
    containers: await activeContainers(db),
    kind: opts.kind,
    names: opts.names,
    ...(opts.backupType ? { backupType: opts.backupType } : {}),
    weekday: now.getDay(),
    weeklyDay: config.weeklyDay,
    weeklySeparateRun: config.weeklySeparateRun,
  });
  if (plan.unknownNames.length) {
    throw new ConfigError(`no active container named ${plan.unknownNames.map((n) => `'${n}'`).join(', ')}`);
  }
  const jobs = plan.backups.map((b) => containerJob(b.container, b.backupType, config, mask));
  if (opts.kind === 'nightly') jobs.unshift(adminDbJob(config));
  return { jobs, skipped: plan.skipped };
}

/** Returns why this process must not back the job up now, or undefined once it holds the job's claim. */
async function claimOrSkip(job: BackupJob, locks: AdminLocks, db: AdminDb, worker: boolean, runDay: string, log: Logger): Promise<string | undefined> {
  const id = job.cId ?? 0;
  let claimed: boolean;
  try {
    claimed = await locks.claim(id);
  } catch (err) {
    // The admin DB is gone: a worker cannot coordinate and leaves the job to others; a lone run backs up anyway.
    if (worker) return `admin database unreachable, cannot claim: ${(err as Error).message}`;
    log.warn({ container: job.name }, 'cannot claim the container (admin DB unreachable): backing it up anyway');
    return undefined;
  }
  if (!claimed) {
    const holder = await locks.claimHolder(id).catch(() => undefined);
    const reason = `already being backed up by ${holder?.application ?? 'another run'}`;
    log.warn({ container: job.name, holder: holder?.application }, reason);
    return reason;
  }
  if (worker && (await startedInRun(db, job.cId, job.name, job.backupType, runDay).catch(() => false))) {
    await locks.release(id);
    return 'already backed up in this run by another worker';
  }
  return undefined;
}

function summaryOf(kind: SummaryKind, startedAt: Date, results: BackupResult[], skipped: Skipped, problems: string[], interrupted: boolean): RunSummary {
  return { kind, host: hostname(), startedAt, finishedAt: new Date(), results, skipped, problems, interrupted, verification: [] };
}

/** A backups row that cannot be written is logged whole, as JSON, so an operator can replay it: nothing is lost. */
export function rowRecorder(db: AdminDb, io: Pick<RunIo, 'log' | 'mask'>, problems: string[]): (row: BackupRow) => Promise<void> {
  return async (row) => {
    try {
      await insertBackupRow(db, row);
    } catch (err) {
      io.log.error({ unrecordedBackupsRow: row, err: io.mask((err as Error).message) }, 'could not write a backups row');
      problems.push(`backups row not written (${row.name} ${row.backupId} ${row.state}): ${io.mask((err as Error).message)}`);
    }
  };
}

/** Sends the summary; a mail that cannot go out is logged and becomes a run problem (exit 4), never a lost backup. */
export async function mailSummary(config: Config, summary: RunSummary, io: Pick<RunIo, 'log' | 'mask'>): Promise<void> {
  const problem = await deliver(config, buildSummaryMail(summary, io.mask), io);
  if (problem) summary.problems.push(problem);
}

async function mailCouldNotStart(config: Config, kind: string, reason: string, io: Pick<RunIo, 'log' | 'mask'>): Promise<void> {
  await deliver(config, buildCouldNotStartMail(kind, hostname(), reason, io.mask), io);
}

/** Sends one mail; returns what went wrong (already logged), or undefined when it went out. */
async function deliver(config: Config, mail: MailContent, io: Pick<RunIo, 'log' | 'mask'>): Promise<string | undefined> {
  if (!config.smtp) {
    io.log.warn('SMTP_HOST is not set: the summary is not mailed');
    return undefined;
  }
  try {
    await sendMail(config.smtp, mail);
    io.log.info({ to: config.smtp.to, subject: mail.subject }, 'mail sent');
    return undefined;
  } catch (err) {
    const message = io.mask((err as Error).message);
    io.log.error({ err: message }, 'could not send the summary mail');
    return `summary mail not sent: ${message}`;
  }
}

/** Runs fn over items, at most `limit` at a time, starting none after the signal fires. Results in start order. */
export async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, signal: AbortSignal): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let started = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const index = next++;
      started += 1;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results.slice(0, started);
}

async function printPlan(jobs: BackupJob[], skipped: Skipped, config: Config, io: RunIo): Promise<void> {
  const backupId = formatBackupId(new Date());
  io.print(`Dry run: ${jobs.length} backups would run; nothing is dumped, uploaded or recorded.`);
  for (const job of jobs) {
    io.print(`\n${job.name} (${job.backupType})`);
    try {
      // Listing the databases is read-only; it makes the printed keys the real ones.
      const steps = await job.steps(backupId);
      const folder = backupFolder(config.s3.prefix, job.segment, backupId);
      for (const step of steps) {
        io.print(`  ${renderCommand(step.command, io.mask)}`);
        io.print(`    → s3://${config.s3.bucket}/${folder}${step.objectName} (SSE ${config.s3.sse.mode}${step.compression !== 'none' ? `, ${step.compression}` : ''})`);
      }
    } catch (err) {
      io.print(`  would fail: ${io.mask((err as Error).message)}`);
    }
  }
  for (const s of skipped) io.print(`skipped ${s.name}: ${s.reason}`);
}
