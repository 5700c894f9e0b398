// `backup-all audit [--json] [--prom FILE]`: every active container's newest backups against its policy, as a table
// or one JSON document, optionally as a node_exporter textfile. Exit 1 when any container fails the audit.
import { rename, rm, writeFile } from 'node:fs/promises';
import { latestBackupRows } from '../admin-db/audit-queries.js';
import { heldClaims } from '../admin-db/locks.js';
import { connectAdminDb } from '../admin-db/pool.js';
import { activeContainers } from '../admin-db/queries.js';
import { latestFlagRows } from '../admin-db/watch-queries.js';
import { lastBackupFigures } from '../audit/backup-figures.js';
import {
  AUDIT_STATUSES,
  auditExitCode,
  DEFAULT_GRACE_MS,
  evaluateAudit,
  formatAge,
  type AuditResult,
  type BackupAttempt,
} from '../audit/evaluate.js';
import { renderPrometheus } from '../audit/prometheus.js';
import type { Config } from '../config.js';
import { ConfigError, errorText } from '../errors.js';
import type { Masker } from '../util/mask.js';

export interface AuditCommandOptions {
  json: boolean;
  /** Write the node_exporter textfile here (atomically). */
  prom?: string;
  /** The audit's "now"; default the current time. */
  now?: Date;
  /** Slack on top of the policy window; default DEFAULT_GRACE_MS (2 h). */
  graceMs?: number;
  /** An unfinished backup younger than this is Running; default config.timeoutMs (BACKUP_TIMEOUT, 12 h). */
  maxRunMs?: number;
  /** Where warnings go (manifests the metrics could not read); default nowhere. */
  warn?: (line: string) => void;
}

export async function runAudit(config: Config, opts: AuditCommandOptions, print: (line: string) => void, mask: Masker): Promise<number> {
  const now = opts.now ?? new Date();
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const maxRunMs = opts.maxRunMs ?? config.timeoutMs;
  const db = await connectAdminDb(config.adminDbUrl, mask);
  let results: AuditResult[];
  try {
    const containers = await activeContainers(db);
    const rows = await latestBackupRows(db, containers);
    const liveClaims = await heldClaims(db);
    const flags = await latestFlagRows(db, containers.map((c) => c.id));
    results = evaluateAudit(containers, rows, { now, graceMs, maxRunMs, liveClaims }, flags);
  } finally {
    await db.end();
  }
  if (opts.json) print(mask(JSON.stringify(auditJson(results, { now, graceMs, maxRunMs }))));
  else for (const line of renderAuditTable(results, now)) print(mask(line));
  if (opts.prom) {
    // Only the metrics need S3 (each newest backup's manifest): the table and --json are the admin DB's alone.
    const figures = await lastBackupFigures(config, results);
    for (const line of figures.unread) opts.warn?.(mask(`audit --prom: no size or rows for ${line}`));
    try {
      await writeFileAtomic(opts.prom, renderPrometheus({ results, now, sizes: figures.sizes, rows: figures.rows }));
    } catch (err) {
      throw new ConfigError(`--prom ${opts.prom}: cannot write the file: ${errorText(err)}`);
    }
  }
  return auditExitCode(results);
}

/** Writes `path` whole or not at all: a temporary file beside it, then rename (node_exporter never reads half). */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time (TZ from the environment), to the minute: what the operator reads next to the cron schedule. */
export function formatLocalTime(date: Date): string {
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** The table: one line per container, then a summary line. Last success is the start of the newest good backup. */
export function renderAuditTable(results: readonly AuditResult[], now: Date): string[] {
  if (results.length === 0) return ['no active containers'];
  const header = ['CONTAINER', 'ENGINE', 'FREQUENCY', 'STATUS', 'LAST SUCCESS', 'AGE', 'DETAIL'];
  const rows = results.map((r) => [
    r.name,
    r.engine || '?',
    r.frequency,
    r.status,
    r.lastSuccess ? formatLocalTime(r.lastSuccess.startedAt) : '-',
    r.lastSuccess ? formatAge(now.getTime() - r.lastSuccess.startedAt.getTime()) : '-',
    r.detail.replace(/\s*\n\s*/g, ' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const counts = AUDIT_STATUSES.map((s) => [s, results.filter((r) => r.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const failing = results.filter((r) => !r.ok).length;
  return [
    line(header),
    ...rows.map(line),
    '',
    `${results.length} containers: ${counts.join(', ')}. ${failing ? `${failing} fail the audit.` : 'Audit passed.'}`,
  ];
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : undefined);
const secs = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms / 1000));

function attemptJson(a: BackupAttempt | undefined) {
  if (!a) return null;
  return {
    backupId: a.backupId,
    backupType: a.backupType,
    startedAt: iso(a.startedAt),
    endedAt: iso(a.endedAt),
    durationSeconds: secs(a.durationMs),
    ok: a.ok,
    url: a.url || undefined,
    error: a.error,
  };
}

/** The --json document: times in ISO 8601 UTC, durations in seconds. */
export function auditJson(results: readonly AuditResult[], at: { now: Date; graceMs: number; maxRunMs: number }) {
  return {
    ok: auditExitCode(results) === 0,
    auditedAt: at.now.toISOString(),
    graceSeconds: secs(at.graceMs),
    maxRunSeconds: secs(at.maxRunMs),
    counts: Object.fromEntries(AUDIT_STATUSES.map((s) => [s, results.filter((r) => r.status === s).length])),
    containers: results.map((r) => ({
      id: r.id,
      name: r.name,
      engine: r.engine,
      frequency: r.frequency,
      status: r.status,
      ok: r.ok,
      detail: r.detail,
      problem: r.problem,
      error: r.error,
      suspicious: r.suspicious ? { changes: r.suspicious.changes, flaggedAt: iso(r.suspicious.flaggedAt) } : undefined,
      lastSuccess: attemptJson(r.lastSuccess),
      lastSuccessAgeSeconds: secs(r.lastSuccessAgeMs),
      lastAttempt: attemptJson(r.lastAttempt),
    })),
  };
}
