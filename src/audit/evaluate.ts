// The audit's decision: each active container's backups log → a status against its policy. Pure: instants in,
// statuses out; every comparison is on elapsed milliseconds, so local time, midnight and DST play no part.
// See admin-db.md, "The backups log, as the existing web UI and audit read it", and test/unit/audit.test.ts.
import type { BackupLogRow } from '../admin-db/audit-queries.js';
import type { Container, Frequency } from '../admin-db/container-info.js';
import { firstLine } from '../util/format.js';
import { acknowledgeCommand, flaggedChanges, standingFlag, type FlagRows } from '../watch/flags.js';

export type AuditStatus =
  | 'Good'
  | 'Suspicious'
  | 'Out of Policy'
  | 'Running'
  | 'Abandoned'
  | 'Started but did not finish'
  | 'Failed'
  | 'No backups'
  | 'No policy';

export const AUDIT_STATUSES: readonly AuditStatus[] = [
  'Good',
  'Suspicious',
  'Out of Policy',
  'Running',
  'Abandoned',
  'Started but did not finish',
  'Failed',
  'No backups',
  'No policy',
];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** How old the newest successful backup's start may be, by policy (before the grace). */
export const POLICY_WINDOW_MS: Record<Exclude<Frequency, 'None'>, number> = { Daily: DAY, Weekly: 7 * DAY };
/** Slack on top of the window, so a nightly run that starts a little later than the night before still counts. */
export const DEFAULT_GRACE_MS = 2 * HOUR;
/** An unfinished backup younger than this is Running; older, it did not finish. The run's timeout (BACKUP_TIMEOUT). */
export const DEFAULT_MAX_RUN_MS = 12 * HOUR;

export interface AuditOptions {
  now: Date;
  /** Default DEFAULT_GRACE_MS. */
  graceMs?: number;
  /** Default DEFAULT_MAX_RUN_MS. */
  maxRunMs?: number;
  /**
   * The containers a live process is backing up now (their claim is held). An unfinished backup of a container not
   * in it is Abandoned: its process died. Absent: not known, and unfinished backups are judged by age alone.
   */
  liveClaims?: ReadonlySet<number>;
}

/** One backup: a 'start' row and, once it finished, the next 'end' row with the same backup_id. */
export interface BackupAttempt {
  backupId: string;
  backupType: string;
  startedAt: Date;
  /** Absent while unfinished (no 'end' row yet). */
  endedAt?: Date;
  durationMs?: number;
  /** Absent while unfinished; false when the 'end' row's err_msg starts with ERROR. */
  ok?: boolean;
  url: string;
  /** The 'end' row's err_msg when it failed. */
  error?: string;
}

export type FinishedAttempt = BackupAttempt & { endedAt: Date; durationMs: number; ok: boolean };

export interface AuditResult {
  id: number;
  name: string;
  engine: string;
  frequency: Frequency;
  /** Why the container cannot be backed up at all (from container-info), if so. */
  problem?: string;
  status: AuditStatus;
  /** False when the container counts against the audit (see auditExitCode). */
  ok: boolean;
  /** The newest successful backup. */
  lastSuccess?: FinishedAttempt;
  /** now − lastSuccess.startedAt: what the policy window is compared with. */
  lastSuccessAgeMs?: number;
  /** The newest backup, whatever its outcome (the one that decided the status unless there is no policy). */
  lastAttempt?: BackupAttempt;
  /** The failing message (first line of err_msg) when the status is Failed. */
  error?: string;
  /**
   * Suspicious: the newest backup is good and on time, but its contents changed suspiciously since the earlier ones
   * (the run's 'suspicious' action_log row: its changes, and when it was flagged), and nobody acknowledged it.
   */
  suspicious?: { changes: string; flaggedAt: Date };
  /** One line saying why: shown in the table's detail column. */
  detail: string;
}

/** Failure as the web UI shows it ("Failed:"). The same rule as the SQL in latestBackupRows(). */
export function isFailureMessage(errMsg: string | null | undefined): boolean {
  return /^\s*ERROR/.test(errMsg ?? '');
}

/** Rows of each container: by c_id, or by name when c_id is NULL (older rows). A row id is used once per container. */
export function rowsByContainer(containers: readonly Pick<Container, 'id' | 'name'>[], rows: readonly BackupLogRow[]): Map<number, BackupLogRow[]> {
  const byId = new Map<number, BackupLogRow[]>(containers.map((c) => [c.id, []]));
  const idsByName = new Map<string, number[]>();
  for (const c of containers) idsByName.set(c.name, [...(idsByName.get(c.name) ?? []), c.id]);
  const seen = new Set<string>();
  for (const row of rows) {
    const ids = row.cId !== null ? [row.cId] : idsByName.get(row.name) ?? [];
    for (const id of ids) {
      const key = `${id}/${row.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      byId.get(id)?.push(row);
    }
  }
  return byId;
}

const byTime = (a: BackupLogRow, b: BackupLogRow) => a.ts.getTime() - b.ts.getTime() || a.id - b.id;

/**
 * One container's rows → its backups, newest first. Per backup_id, in time order, a 'start' opens a backup and the
 * next 'end' closes it; an 'end' with no open start, and rows without a backup_id, pair with nothing and are ignored.
 */
export function pairAttempts(rows: readonly BackupLogRow[]): BackupAttempt[] {
  const open = new Map<string, BackupAttempt>();
  const attempts: { attempt: BackupAttempt; order: BackupLogRow }[] = [];
  for (const row of [...rows].sort(byTime)) {
    if (row.backupId === null || row.backupId === undefined) continue;
    if (row.state === 'start') {
      const attempt: BackupAttempt = { backupId: row.backupId, backupType: row.backupType, startedAt: row.ts, url: row.url };
      open.set(row.backupId, attempt);
      attempts.push({ attempt, order: row });
    } else if (row.state === 'end') {
      const attempt = open.get(row.backupId);
      if (!attempt) continue;
      open.delete(row.backupId);
      const ok = !isFailureMessage(row.errMsg);
      Object.assign(attempt, {
        endedAt: row.ts,
        durationMs: row.ts.getTime() - attempt.startedAt.getTime(),
        ok,
        url: row.url || attempt.url,
        ...(ok ? {} : { error: row.errMsg }),
      });
    }
  }
  return attempts.sort((a, b) => byTime(b.order, a.order)).map((a) => a.attempt);
}

const isFinished = (a: BackupAttempt): a is FinishedAttempt => a.endedAt !== undefined;

/** '<1 min', '45 min', '5 h 3 min', '3 d 4 h'. */
export function formatAge(ms: number): string {
  if (ms < 0) return `in ${formatAge(-ms)}`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return '<1 min';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * The status rules, for one container and its rows (already matched to it), and its newest 'suspicious' and
 * 'acknowledge' action_log rows (watch/flags.ts). Suspicious takes Good's place only: a failed, unfinished or late
 * newest backup says more.
 */
export function evaluateContainer(container: Container, rows: readonly BackupLogRow[], options: AuditOptions, flags?: FlagRows): AuditResult {
  const now = options.now.getTime();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const maxRunMs = options.maxRunMs ?? DEFAULT_MAX_RUN_MS;
  const attempts = pairAttempts(rows);
  const lastAttempt = attempts[0];
  const lastSuccess = attempts.find((a): a is FinishedAttempt => isFinished(a) && a.ok);
  const lastSuccessAgeMs = lastSuccess ? now - lastSuccess.startedAt.getTime() : undefined;

  const base = {
    id: container.id,
    name: container.name,
    engine: container.engine,
    frequency: container.frequency,
    ...(container.problem ? { problem: container.problem } : {}),
    ...(lastSuccess ? { lastSuccess, lastSuccessAgeMs } : {}),
    ...(lastAttempt ? { lastAttempt } : {}),
  };
  const withProblem = (detail: string) => (container.problem ? `${detail}; cannot be backed up: ${container.problem}` : detail);
  const result = (status: AuditStatus, detail: string, extra: Pick<AuditResult, 'error' | 'suspicious'> = {}): AuditResult => ({
    ...base,
    status,
    ok: status === 'Good' || status === 'Running' || status === 'No policy',
    ...extra,
    detail: withProblem(detail),
  });

  if (container.frequency === 'None') return result('No policy', 'backup_freq is None: not audited');
  if (!lastAttempt) return result('No backups', 'no backup found in the backups log');

  const sinceStart = now - lastAttempt.startedAt.getTime();
  if (!isFinished(lastAttempt)) {
    if (options.liveClaims && !options.liveClaims.has(container.id)) {
      return result(
        'Abandoned',
        `${lastAttempt.backupType} backup ${lastAttempt.backupId} started ${formatAge(sinceStart)} ago, has no end row, and no process is backing it up: its process died (the next run records it)`,
      );
    }
    if (sinceStart < maxRunMs) return result('Running', `${lastAttempt.backupType} backup ${lastAttempt.backupId} running for ${formatAge(sinceStart)}`);
    return result(
      'Started but did not finish',
      `${lastAttempt.backupType} backup ${lastAttempt.backupId} started ${formatAge(sinceStart)} ago and has no end row`,
    );
  }
  if (!lastAttempt.ok) {
    const error = firstLine(lastAttempt.error ?? '');
    return result('Failed', `${lastAttempt.backupType} backup ${lastAttempt.backupId}: ${error}`, { error });
  }
  // The newest backup succeeded, so it is lastSuccess.
  const allowedMs = POLICY_WINDOW_MS[container.frequency] + graceMs;
  if (sinceStart <= allowedMs) {
    const took = `${lastAttempt.backupType} backup ${lastAttempt.backupId} took ${formatAge(lastAttempt.durationMs)}`;
    const flag = standingFlag(flags, lastAttempt.backupId);
    if (flag) {
      const changes = flaggedChanges(flag.description);
      return result('Suspicious', `${took}, but what it holds changed: ${changes}; once checked: ${acknowledgeCommand(container.name, container.id)}`, {
        suspicious: { changes, flaggedAt: flag.at },
      });
    }
    return result('Good', took);
  }
  return result(
    'Out of Policy',
    `newest backup started ${formatAge(sinceStart)} ago; ${container.frequency} allows ${formatAge(allowedMs)} (grace included)`,
  );
}

/** Every container, in the order given, with the rows that belong to it (rowsByContainer). */
export function evaluateAudit(
  containers: readonly Container[],
  rows: readonly BackupLogRow[],
  options: AuditOptions,
  flags: ReadonlyMap<number, FlagRows> = new Map(),
): AuditResult[] {
  const grouped = rowsByContainer(containers, rows);
  return containers.map((c) => evaluateContainer(c, grouped.get(c.id) ?? [], options, flags.get(c.id)));
}

/** 1 when any active container with a policy is neither Good nor Running; else 0. */
export function auditExitCode(results: readonly AuditResult[]): number {
  return results.some((r) => !r.ok) ? 1 : 0;
}
