// One process backs up an owner (a container, or the admin DB) at a time: it holds the owner's claim, an advisory
// lock on the admin DB that vanishes with its process. What a run does when another process holds the claim.
import type { Logger } from 'pino';
import type { AdminLocks } from '../admin-db/locks.js';
import type { RowOwner } from '../admin-db/queries.js';
import type { Masker } from '../util/mask.js';
import { formatDuration } from '../util/format.js';
import { errorText } from '../errors.js';
import { monotonicNow } from '../util/time.js';

/** How a claim attempt ended. */
export type Claim =
  | { kind: 'claimed' }
  /** The admin DB cannot be asked: a lone run backs up anyway, workers leave it (they cannot coordinate). */
  | { kind: 'unreachable'; why: string }
  | { kind: 'held'; holder: string };

const POLL_MS = 1_000;

/** The admin DB's own backups are claimed as id 0 (no container has it). */
const claimKey = (owner: RowOwner) => owner.cId ?? 0;
export const rowOwner = (job: { cId: number | null; name: string }): RowOwner => ({ cId: job.cId, name: job.name });

export class Claims {
  constructor(
    private readonly locks: AdminLocks,
    private readonly io: { log: Logger; mask: Masker; signal: AbortSignal },
  ) {}

  /** One try. */
  async claim(owner: RowOwner): Promise<Claim> {
    try {
      if (await this.locks.claim(claimKey(owner))) return { kind: 'claimed' };
      const holder = await this.locks.claimHolder(claimKey(owner)).catch(() => undefined);
      return { kind: 'held', holder: holder?.application ?? 'another process' };
    } catch (err) {
      return { kind: 'unreachable', why: this.io.mask(errorText(err)) };
    }
  }

  /** Tries until the claim is had, the admin DB is lost, `waitMs` has passed, or the run is interrupted. */
  async waitFor(owner: RowOwner, waitMs: number): Promise<Claim> {
    const deadline = monotonicNow() + waitMs;
    let claim = await this.claim(owner);
    if (claim.kind === 'held') {
      this.io.log.info({ container: owner.name, holder: claim.holder, waitS: Math.round(waitMs / 1000) }, `waiting up to ${formatDuration(waitMs)} for ${claim.holder} to finish`);
    }
    while (claim.kind === 'held' && monotonicNow() < deadline && !this.io.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - monotonicNow()))));
      claim = await this.claim(owner);
    }
    return claim;
  }

  async release(owner: RowOwner): Promise<void> {
    await this.locks.release(claimKey(owner));
  }
}
