// The orchestrator, readable as the design: reach the admin DB → read the active containers → plan → back them up
// with bounded concurrency → summarise → mail. Returns the summary; cli.ts turns it into an exit code.
import { hostname } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Container } from './admin-db/container-info.js';
import { connectAdminDb, type AdminDb } from './admin-db/pool.js';
import { activeContainers, insertBackupRow, type BackupRow } from './admin-db/queries.js';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { sendMail } from './notify/email.js';
import { buildSummaryMail } from './notify/summary-mail.js';
import { backupContainer, planSteps, resolveTarget, type BackupResult } from './pipeline/backup-container.js';
import { renderCommand } from './pipeline/command.js';
import { planRun, type BackupType, type Plan, type RunKind } from './plan.js';
import { backupFolder } from './storage/s3.js';
import { createS3Client } from './storage/s3.js';
import { safeSegment } from './engines/names.js';
import type { RunSummary } from './summary.js';
import type { Masker } from './util/mask.js';
import { formatBackupId } from './util/time.js';

export interface RunOptions {
  kind: RunKind;
  names: string[];
  backupType?: BackupType;
  dryRun: boolean;
}

export interface RunIo {
  log: Logger;
  mask: Masker;
  /** Aborted on SIGTERM/SIGINT: no new backups start, in-flight ones abort. */
  signal: AbortSignal;
  /** Where --dry-run prints its plan. */
  print: (line: string) => void;
}

export async function runBackups(config: Config, opts: RunOptions, io: RunIo): Promise<RunSummary> {
  const startedAt = new Date();
  const db = await connectAdminDb(config.adminDbUrl, io.mask);
  try {
    const containers = await activeContainers(db);
    const plan = planRun({
      containers,
      kind: opts.kind,
      names: opts.names,
      ...(opts.backupType ? { backupType: opts.backupType } : {}),
      weekday: startedAt.getDay(),
      weeklyDay: config.weeklyDay,
      weeklySeparateRun: config.weeklySeparateRun,
    });
    if (plan.unknownNames.length) {
      throw new ConfigError(`no active container named ${plan.unknownNames.map((n) => `'${n}'`).join(', ')}`);
    }
    io.log.info(
      { kind: opts.kind, due: plan.backups.map((b) => b.container.name), skipped: plan.skipped.length, concurrency: config.concurrency },
      `${plan.backups.length} backups planned`,
    );
    if (opts.dryRun) {
      await printPlan(plan, config, io);
      return summaryOf(opts.kind, startedAt, [], plan, [], false);
    }

    const problems: string[] = [];
    const client = createS3Client(config.s3);
    const recordRow = rowRecorder(db, io, problems);
    const results = await runPool(
      plan.backups,
      config.concurrency,
      (b) => backupContainer(b.container, b.backupType, { config, client, mask: io.mask, log: io.log, signal: io.signal, recordRow }),
      io.signal,
    );
    client.destroy();
    const notStarted = plan.backups.length - results.length;
    if (notStarted > 0) problems.push(`interrupted: ${notStarted} planned backups were not started`);
    const summary = summaryOf(opts.kind, startedAt, results, plan, problems, io.signal.aborted);
    await mailSummary(config, summary, io);
    return summary;
  } finally {
    await db.end().catch(() => {});
  }
}

function summaryOf(
  kind: RunKind,
  startedAt: Date,
  results: BackupResult[],
  plan: Plan,
  problems: string[],
  interrupted: boolean,
): RunSummary {
  return { kind, host: hostname(), startedAt, finishedAt: new Date(), results, skipped: plan.skipped, problems, interrupted };
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
  if (!config.smtp) {
    io.log.warn('SMTP_HOST is not set: the summary is not mailed');
    return;
  }
  try {
    await sendMail(config.smtp, buildSummaryMail(summary, io.mask));
    io.log.info({ to: config.smtp.to }, 'summary mailed');
  } catch (err) {
    const message = io.mask((err as Error).message);
    io.log.error({ err: message }, 'could not send the summary mail');
    summary.problems.push(`summary mail not sent: ${message}`);
  }
}

/** Runs fn over items, at most `limit` at a time, starting none after the signal fires. Results in start order. */
export async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, signal: AbortSignal): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results.filter((r) => r !== undefined);
}

async function printPlan(plan: Plan, config: Config, io: RunIo): Promise<void> {
  const backupId = formatBackupId(new Date());
  io.print(`Dry run: ${plan.backups.length} backups would run; nothing is dumped, uploaded or recorded.`);
  for (const { container, backupType } of plan.backups) {
    io.print(`\n${container.name} (${container.engine || '?'}, port ${container.port || '?'}, ${backupType})`);
    try {
      const { engine, target } = resolveTarget(container, config);
      // Listing the databases is read-only; it makes the printed keys the real ones.
      const steps = await planSteps(engine, target, { config, mask: io.mask });
      const folder = backupFolder(config.s3.prefix, safeSegment(container.name), backupId);
      for (const step of steps) {
        io.print(`  ${renderCommand(step.command, io.mask)}`);
        io.print(`    → s3://${config.s3.bucket}/${folder}${step.objectName} (SSE ${config.s3.sse.mode}${step.compression !== 'none' ? `, ${step.compression}` : ''})`);
      }
    } catch (err) {
      io.print(`  would fail: ${io.mask((err as Error).message)}`);
    }
  }
  for (const s of plan.skipped) io.print(`skipped ${s.name}: ${s.reason}`);
}

export type { Container };
