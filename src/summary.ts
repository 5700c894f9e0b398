// The value a run produces: what every mail, JSON output and exit code is computed from.
import type { BackupResult } from './pipeline/backup-job.js';
import type { RunKind } from './plan.js';

export type SummaryKind = RunKind | 'admin-db';

export interface RunSummary {
  kind: SummaryKind;
  host: string;
  startedAt: Date;
  finishedAt: Date;
  results: BackupResult[];
  skipped: { name: string; reason: string }[];
  /** Run-level trouble that is not one backup's failure: rows not written, mail not sent, interrupted. */
  problems: string[];
  interrupted: boolean;
  /** Lines about the nightly test restores (BACKUP_VERIFY_SAMPLE), empty when none ran. */
  verification: string[];
}

export const failedResults = (s: RunSummary) => s.results.filter((r) => !r.ok);

/** 0 all good; 1 a backup failed (or the run was interrupted); 4 backups fine but the run could not report them. */
export function exitCodeOf(s: RunSummary): number {
  if (failedResults(s).length > 0 || s.interrupted) return 1;
  if (s.problems.length > 0) return 4;
  return 0;
}
