// Which containers to back up in this run: containers × today's weekday × flags. Pure; see test/plan.test.ts.
import type { Container } from '../admin-db/container-info.js';

export type BackupType = 'Daily' | 'Weekly' | 'User' | 'Admin';
export const BACKUP_TYPES: readonly BackupType[] = ['Daily', 'Weekly', 'User', 'Admin'];

export type RunKind = 'nightly' | 'weekly' | 'named';

export interface PlanInput {
  containers: Container[];
  kind: RunKind;
  /** Container names given on the command line (kind 'named'). */
  names?: string[];
  /** Only for kind 'named'; default 'Admin' (admin-initiated). */
  backupType?: BackupType;
  /** 0 = Sunday … 6 = Saturday, in local time. */
  weekday: number;
  weeklyDay: number;
  /** A separate `--weekly` cron entry backs up Weekly containers; the nightly run then leaves them alone. */
  weeklySeparateRun: boolean;
}

export interface PlannedBackup {
  container: Container;
  backupType: BackupType;
}

export interface Plan {
  backups: PlannedBackup[];
  skipped: { name: string; reason: string }[];
  /** Names asked for on the command line that match no active container. */
  unknownNames: string[];
}

export function planRun(input: PlanInput): Plan {
  const plan: Plan = { backups: [], skipped: [], unknownNames: [] };
  if (input.kind === 'named') {
    const wanted = new Set(input.names ?? []);
    for (const c of input.containers) {
      if (wanted.has(c.name)) plan.backups.push({ container: c, backupType: input.backupType ?? 'Admin' });
    }
    const found = new Set(plan.backups.map((b) => b.container.name));
    plan.unknownNames = [...wanted].filter((n) => !found.has(n));
    return plan;
  }
  for (const c of input.containers) {
    const type = dueType(c, input);
    if (type) plan.backups.push({ container: c, backupType: type });
    else plan.skipped.push({ name: c.name, reason: skipReason(c, input) });
  }
  return plan;
}

function dueType(c: Container, input: PlanInput): BackupType | undefined {
  if (input.kind === 'weekly') return c.frequency === 'Weekly' ? 'Weekly' : undefined;
  if (c.frequency === 'Daily') return 'Daily';
  const weeklyDueTonight = !input.weeklySeparateRun && input.weekday === input.weeklyDay;
  if (c.frequency === 'Weekly' && weeklyDueTonight) return 'Weekly';
  return undefined;
}

function skipReason(c: Container, input: PlanInput): string {
  if (c.frequency === 'None') return 'backup_freq is None';
  if (input.kind === 'weekly') return 'not a Weekly container (the nightly run backs it up)';
  return input.weeklySeparateRun ? 'Weekly: backed up by the --weekly run' : 'Weekly: not due today';
}
