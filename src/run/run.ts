// The nightly story: take the run lock → read the active containers → plan → clear what earlier runs left → back them
// up, a few at a time, each under its claim → compare with earlier backups → test-restore a sample → summarise → mail.
// commands/backup.ts turns the summary into the --json line and the exit code.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AdminLocks } from '../admin-db/locks.js';
import { connectAdminDb, type AdminDb } from '../admin-db/pool.js';
import { activeContainers, endedInRun, insertBackupRow, lastEndedSince, uniqueBackupId, type BackupRow } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import { CannotStartError, ConfigError, errorText } from '../errors.js';
import { mailCouldNotStart, mailSummary } from '../notify/deliver.js';
import { pingFinish, pingStart } from '../notify/ping.js';
import { runBackupJob, type BackupDeps, type BackupJob, type BackupResult } from '../pipeline/backup-job.js';
import { verifySample } from '../restore/nightly-sample.js';
import { createS3Client } from '../storage/s3.js';
import { formatDuration } from '../util/format.js';
import type { Masker } from '../util/mask.js';
import { runPool } from '../util/pool.js';
import { formatBackupId } from '../util/time.js';
import { watchBackups } from '../watch/watch-backups.js';
import { Claims, rowOwner } from './claims.js';
import { printPlan } from './dry-run.js';
import { adminDbJob, containerJob } from './jobs.js';
import { closeAbandoned, emptyLeftovers, mergeLeftovers, sweepLeftovers, type Leftovers, type LeftoversContext } from './leftovers.js';
import { planRun, type BackupType, type RunKind } from './plan.js';
import type { RunSummary, SummaryKind } from './summary.js';

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
    const adminDb = db;
    const testClock = config.testClock;
    const deps: BackupDeps = {
      config,
      client,
      mask: io.mask,
      log: io.log,
      signal: io.signal,
      recordRow: rowRecorder(adminDb, io, problems),
      uniqueBackupId: (job, candidate) => uniqueBackupId(adminDb, rowOwner(job), candidate).catch(() => candidate),
      ...(testClock ? { clock: () => testClock } : {}),
    };
    const claims = new Claims(locks, io);
    const cleanup: LeftoversContext = { db: adminDb, client, config, claims, log: io.log, mask: io.mask, recordRow: deps.recordRow };
    // What earlier runs left (dead processes' backups, objects and uploads of failed ones) before making more.
    const leftovers = await sweepLeftovers(cleanup);
    const night = await backUpEach(jobs, { config, opts, io, deps, db: adminDb, claims, cleanup, startedAt });
    client.destroy();
    mergeLeftovers(leftovers, night.leftovers);
    if (leftovers.notRemoved.length) problems.push(`${leftovers.notRemoved.length} leftovers of earlier runs could not be removed (see the log, and docs/iam-policy.md)`);
    skipped.push(...night.skipped);
    const notStarted = jobs.length - night.attempted;
    if (notStarted > 0) problems.push(`interrupted: ${notStarted} planned backups were not started`);
    const summary = summaryOf(opts.kind, startedAt, night.results, skipped, problems, io.signal.aborted);
    summary.covered = night.covered;
    summary.missed = night.missed;
    summary.abandoned = leftovers.abandoned;
    summary.cleanup = { completed: leftovers.completed, removed: leftovers.removed, notRemoved: leftovers.notRemoved, notes: leftovers.notes };
    if (!io.signal.aborted) summary.watch = await watchBackups(config, night.results, { log: io.log, mask: io.mask, signal: io.signal, db: adminDb });
    if (opts.kind === 'nightly' && !io.signal.aborted) {
      summary.verification = await verifySample(config, night.results, { log: io.log, mask: io.mask, signal: io.signal, db });
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

interface Night {
  results: BackupResult[];
  skipped: Skipped;
  covered: RunSummary['covered'];
  missed: RunSummary['missed'];
  /** Backups of this night whose process died (a worker killed mid-run), found when their owner was claimed. */
  leftovers: Leftovers;
  /** Jobs this run got to (backed up, skipped, covered or missed): the rest were not started (interrupted). */
  attempted: number;
}

/**
 * Backs each job up under its claim, `concurrency` at a time. A job another process holds: a named run waits for it
 * (BACKUP_CLAIM_WAIT) then backs it up; a scheduled run goes on with the others and comes back to it at the end,
 * waits, and then counts it as backed up if the holder's backup (started in this run's time) succeeded, else backs
 * it up itself. Whatever is still held after the wait is named: a failure, except for a worker (the holder, another
 * worker of this run, reports it). Backups whose process died are closed (their end row says so) and counted.
 */
async function backUpEach(
  jobs: BackupJob[],
  ctx: { config: Config; opts: RunOptions; io: RunIo; deps: BackupDeps; db: AdminDb; claims: Claims; cleanup: LeftoversContext; startedAt: Date },
): Promise<Night> {
  const { config, opts, io, deps, db, claims } = ctx;
  const night: Night = { results: [], skipped: [], covered: [], missed: [], leftovers: emptyLeftovers(), attempted: 0 };
  const runDay = formatBackupId(ctx.startedAt).slice(0, 10);
  const deferred: BackupJob[] = [];
  const named = opts.kind === 'named' || opts.kind === 'admin-db';

  /** `waited`: another process held it first (a scheduled run then counts that process's successful backup). */
  const underClaim = async (job: BackupJob, waited: boolean): Promise<void> => {
    try {
      if (opts.worker && (await endedInRun(db, rowOwner(job), job.backupType, runDay).catch(() => false))) {
        night.skipped.push({ name: job.name, reason: 'already backed up in this run by another worker' });
        return;
      }
      // A backup of it whose process died since the run began (a worker killed while it held the claim).
      mergeLeftovers(night.leftovers, await closeAbandoned(ctx.cleanup, rowOwner(job)));
      if (waited && !named) {
        // The holder may have backed it up for this night (an on-demand run, another worker): a backup that ended
        // while this run was going counts, if it succeeded.
        const theirs = await lastEndedSince(db, rowOwner(job), ctx.startedAt).catch(() => undefined);
        if (theirs?.ok) {
          night.covered.push({ name: job.name, by: `${theirs.backupType} backup ${theirs.backupId} (${theirs.url})` });
          io.log.info({ container: job.name, backupId: theirs.backupId }, 'backed up by another run while this one waited');
          return;
        }
      }
      night.results.push(await runBackupJob(job, deps));
    } finally {
      await claims.release(rowOwner(job));
    }
  };

  const attempt = async (job: BackupJob): Promise<void> => {
    const claim = named ? await claims.waitFor(rowOwner(job), config.claimWaitMs) : await claims.claim(rowOwner(job));
    if (claim.kind === 'claimed') return underClaim(job, false);
    if (claim.kind === 'unreachable') {
      // A worker cannot coordinate and leaves the job to others; a lone run backs up anyway.
      if (opts.worker) {
        night.skipped.push({ name: job.name, reason: `admin database unreachable, cannot claim: ${claim.why}` });
        return;
      }
      io.log.warn({ container: job.name }, 'cannot claim the container (admin DB unreachable): backing it up anyway');
      night.results.push(await runBackupJob(job, deps));
      return;
    }
    if (named) {
      night.missed.push({ name: job.name, reason: `not backed up: ${claim.holder} was still backing it up after ${formatDuration(config.claimWaitMs)} (BACKUP_CLAIM_WAIT)` });
      io.log.error({ container: job.name, holder: claim.holder }, 'not backed up: held by another process past the wait');
      return;
    }
    io.log.warn({ container: job.name, holder: claim.holder }, `held by ${claim.holder}: coming back to it at the end`);
    deferred.push(job);
  };

  night.attempted = (await runPool(jobs, config.concurrency, attempt, io.signal)).length - deferred.length;
  for (const job of deferred) {
    if (io.signal.aborted) break;
    night.attempted += 1;
    const claim = await claims.waitFor(rowOwner(job), config.claimWaitMs);
    if (claim.kind === 'claimed') await underClaim(job, true);
    else if (claim.kind === 'unreachable') night.missed.push({ name: job.name, reason: `not backed up: the admin database became unreachable: ${claim.why}` });
    else if (opts.worker) night.skipped.push({ name: job.name, reason: `still being backed up by ${claim.holder} when this worker finished` });
    else night.missed.push({ name: job.name, reason: `not backed up: ${claim.holder} was still backing it up after ${formatDuration(config.claimWaitMs)} (BACKUP_CLAIM_WAIT)` });
  }
  return night;
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

function summaryOf(kind: SummaryKind, startedAt: Date, results: BackupResult[], skipped: Skipped, problems: string[], interrupted: boolean): RunSummary {
  return {
    kind,
    host: hostname(),
    startedAt,
    finishedAt: new Date(),
    results,
    skipped,
    covered: [],
    missed: [],
    abandoned: [],
    cleanup: { completed: [], removed: [], notRemoved: [], notes: [] },
    problems,
    interrupted,
    verification: [],
  };
}

/** A backups row that cannot be written is logged whole, as JSON, so an operator can replay it: nothing is lost. */
export function rowRecorder(db: AdminDb, io: Pick<RunIo, 'log' | 'mask'>, problems: string[]): (row: BackupRow) => Promise<void> {
  return async (row) => {
    try {
      await insertBackupRow(db, row);
    } catch (err) {
      io.log.error({ unrecordedBackupsRow: row, err: io.mask(errorText(err)) }, 'could not write a backups row');
      problems.push(`backups row not written (${row.name} ${row.backupId} ${row.state}): ${io.mask(errorText(err))}`);
    }
  };
}
