// The value a run produces: what every mail, JSON output and exit code is computed from.
import type { BackupResult } from '../pipeline/backup-job.js';
import type { AbandonedBackup, Leftovers } from './leftovers.js';
import type { RunKind } from './plan.js';
import type { BackupWatch } from '../watch/watch-backups.js';

export type SummaryKind = RunKind | 'admin-db';

export interface RunSummary {
  kind: SummaryKind;
  host: string;
  startedAt: Date;
  finishedAt: Date;
  results: BackupResult[];
  skipped: { name: string; reason: string }[];
  /** Due, but another process held them; its backup, started in this run's time, succeeded: backed up tonight. */
  covered: { name: string; by: string }[];
  /** Due, and not backed up by anyone in this run: held by another process past the wait. A failure. */
  missed: { name: string; reason: string }[];
  /** Backups whose process died (a start row, no end row): their end row says so now. A failure. */
  abandoned: AbandonedBackup[];
  /** The rest of what earlier runs left: found whole, removed, or not removable (a run problem). */
  cleanup: Omit<Leftovers, 'abandoned'>;
  /** Run-level trouble that is not one backup's failure: rows not written, mail not sent, interrupted. */
  problems: string[];
  interrupted: boolean;
  /** Lines about the nightly test restores (BACKUP_VERIFY_SAMPLE), empty when none ran. */
  verification: string[];
  /** Each good backup against its earlier ones: the size trend and suspicious changes (watch/). */
  watch?: BackupWatch[];
}

export const failedResults = (s: RunSummary) => s.results.filter((r) => !r.ok);

/** Good backups whose contents changed suspiciously: the run still succeeded (they are faithful copies). */
export const flaggedBackups = (s: RunSummary) => (s.watch ?? []).filter((w) => w.changes.length > 0);

/** Failures of the run: failed backups, due containers nobody backed up, backups whose process died. */
export const failureCount = (s: RunSummary) => failedResults(s).length + s.missed.length + s.abandoned.length;

/**
 * 0 all good; 1 a backup failed, a due container was not backed up, a dead process's backup was found, or the run
 * was interrupted; 4 backups fine but the run could not report them (or remove what earlier runs left).
 */
export function exitCodeOf(s: RunSummary): number {
  if (failureCount(s) > 0 || s.interrupted) return 1;
  if (s.problems.length > 0) return 4;
  return 0;
}
