// Where a flagged backup is remembered, with no new admin-DB column: action_log. The run writes a 'suspicious' row
// naming the backup and its changes; `backup-all acknowledge` writes an 'acknowledge' row naming the same backup.
// The audit reads the newest of each per container against the container's newest successful backup: the flag
// stands while that backup is the flagged one and nobody acknowledged it, so a later backup that is not flagged
// clears it by itself. Pure: the rows' text, written and read back.

export const SUSPICIOUS_ACTION = 'suspicious';
export const ACKNOWLEDGE_ACTION = 'acknowledge';

/** How many changes a row lists (a dropped schema can take hundreds of tables with it). */
const MAX_LISTED = 20;

/** `backup 2026-12-01_02:00:07 (s3://…/): 2 changes since the last backup: …; …` */
export function suspiciousDescription(backupId: string, url: string, changes: readonly string[]): string {
  const listed = changes.slice(0, MAX_LISTED);
  const more = changes.length - listed.length;
  return `backup ${backupId} (${url}): ${changes.length} change${changes.length === 1 ? '' : 's'} since the last backup: ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/** `backup 2026-12-01_02:00:07 acknowledged by alice@host: note` */
export function acknowledgeDescription(backupId: string, who: string, note?: string): string {
  return `backup ${backupId} acknowledged by ${who}${note ? `: ${note}` : ''}`;
}

/** The backup_id a 'suspicious' or 'acknowledge' row is about (backup ids hold no spaces). */
export function flaggedBackupId(description: string): string | undefined {
  return /^backup (\S+) /.exec(description)?.[1];
}

/** What a 'suspicious' row says changed (its text after the backup and its URL). */
export function flaggedChanges(description: string): string {
  return description.replace(/^backup \S+ \(.*?\): /, '');
}

/** The command that clears a container's flag, its name quoted for a POSIX shell where needed. */
export function acknowledgeCommand(name: string, id: number): string {
  const quoted = /^[A-Za-z0-9_.@%+=:,/-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
  return `backup-all acknowledge ${quoted} --id ${id}`;
}

/** The newest 'suspicious' and 'acknowledge' rows of one container. */
export interface FlagRows {
  suspicious?: { description: string; at: Date };
  acknowledged?: { description: string; at: Date };
}

/** The flag on `backupId` (the container's newest successful backup), when it stands; else undefined. */
export function standingFlag(rows: FlagRows | undefined, backupId: string): { description: string; at: Date } | undefined {
  const flag = rows?.suspicious;
  if (!flag || flaggedBackupId(flag.description) !== backupId) return undefined;
  if (rows.acknowledged && flaggedBackupId(rows.acknowledged.description) === backupId) return undefined;
  return flag;
}
