// One process backs up an owner (a container, or the admin DB) at a time: it holds the owner's claim, an advisory
// lock on the admin DB that vanishes with its process. What a run does when another process holds the claim, and
// with the rows of backups whose process died (a start row and no end row, while nobody holds the claim).
import type { Logger } from 'pino';
import type { AdminLocks } from './admin-db/locks.js';
import type { AdminDb } from './admin-db/pool.js';
import { openStarts, type BackupRow, type RowOwner } from './admin-db/queries.js';
import type { BackupJob } from './pipeline/backup-job.js';
import type { Masker } from './util/mask.js';
import { formatDuration } from './util/duration.js';

/** How a claim attempt ended. */
export type Claim =
  | { kind: 'claimed' }
  /** The admin DB cannot be asked: a lone run backs up anyway, workers leave it (they cannot coordinate). */
  | { kind: 'unreachable'; why: string }
  | { kind: 'held'; holder: string };

/** A backup whose process died: its start row got an end row from this run. */
export interface AbandonedBackup {
  name: string;
  backupId: string;
  backupType: string;
  url: string;
  startedAt: Date;
}

/** How far back a start row without an end row is looked for (older ones are history, not tonight's trouble). */
const ABANDONED_LOOKBACK_MS = 7 * 24 * 3_600_000;
const POLL_MS = 1_000;

const claimKey = (job: Pick<BackupJob, 'cId'>) => job.cId ?? 0;
export const rowOwner = (job: Pick<BackupJob, 'cId' | 'name'>): RowOwner => ({ cId: job.cId, name: job.name });

export class Claims {
  constructor(
    private readonly locks: AdminLocks,
    private readonly db: AdminDb,
    private readonly io: { log: Logger; mask: Masker; signal: AbortSignal },
  ) {}

  /** One try. */
  async claim(job: BackupJob): Promise<Claim> {
    try {
      if (await this.locks.claim(claimKey(job))) return { kind: 'claimed' };
      const holder = await this.locks.claimHolder(claimKey(job)).catch(() => undefined);
      return { kind: 'held', holder: holder?.application ?? 'another process' };
    } catch (err) {
      return { kind: 'unreachable', why: this.io.mask((err as Error).message) };
    }
  }

  /** Tries until the claim is had, the admin DB is lost, `waitMs` has passed, or the run is interrupted. */
  async waitFor(job: BackupJob, waitMs: number): Promise<Claim> {
    const deadline = Date.now() + waitMs;
    let claim = await this.claim(job);
    if (claim.kind === 'held') {
      this.io.log.info({ container: job.name, holder: claim.holder, waitS: Math.round(waitMs / 1000) }, `waiting up to ${formatDuration(waitMs)} for ${claim.holder} to finish`);
    }
    while (claim.kind === 'held' && Date.now() < deadline && !this.io.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
      claim = await this.claim(job);
    }
    return claim;
  }

  async release(job: BackupJob): Promise<void> {
    await this.locks.release(claimKey(job));
  }

  /**
   * With the claim held (so no live process is backing the owner up): its backups of the last days that have a start
   * row and no end row were left by a process that died. Each gets an end row saying so. Never throws: the admin DB
   * being unreachable is reported by the backups that follow.
   */
  async closeAbandoned(job: BackupJob, recordRow: (row: BackupRow) => Promise<void>): Promise<AbandonedBackup[]> {
    let open;
    try {
      open = await openStarts(this.db, rowOwner(job), new Date(Date.now() - ABANDONED_LOOKBACK_MS));
    } catch (err) {
      this.io.log.warn({ container: job.name, err: this.io.mask((err as Error).message) }, 'cannot look for abandoned backups');
      return [];
    }
    for (const o of open) {
      const errMsg = `ERROR: abandoned: the process that started this backup at ${o.startedAt.toISOString()} stopped before it ended (killed, or its host went down); found by a later run`;
      await recordRow({ cId: job.cId, name: job.name, state: 'end', backupId: o.backupId, backupType: o.backupType, url: o.url, command: o.command, errMsg });
      this.io.log.error({ container: job.name, backupId: o.backupId, url: o.url }, 'found an abandoned backup: its end row says so now');
    }
    return open.map((o) => ({ name: job.name, backupId: o.backupId, backupType: o.backupType, url: o.url, startedAt: o.startedAt }));
  }
}
