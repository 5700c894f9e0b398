// The admin DB as restore, verify and list use it: useful (which backup succeeded, which container, the action_log
// row) but not required — the admin DB itself may be what is being restored.
import type { Logger } from 'pino';
import { connectAdminDb, type AdminDb } from '../admin-db/pool.js';
import { insertActionLog, type ActionLogRow } from '../admin-db/restore-queries.js';
import type { Config } from '../config.js';
import { CannotStartError, errorText } from '../errors.js';
import type { Masker } from '../util/mask.js';

/** Connects, or (when not required) logs why it cannot and returns undefined. */
export async function optionalAdminDb(config: Config, io: { log: Logger; mask: Masker }, required: boolean): Promise<AdminDb | undefined> {
  try {
    return await connectAdminDb(config.adminDbUrl, io.mask);
  } catch (err) {
    if (required || !(err instanceof CannotStartError)) throw err;
    io.log.warn({ err: io.mask(err.message) }, 'admin database unreachable: going on with S3 alone (no backups log, no action_log row)');
    return undefined;
  }
}

/** Writes the action_log row; one that cannot be written is logged whole so it can be replayed. True when written. */
export async function recordAction(db: AdminDb | undefined, row: ActionLogRow, io: { log: Logger; mask: Masker }): Promise<boolean> {
  const masked = { ...row, description: io.mask(row.description) };
  if (!db) {
    io.log.error({ unrecordedActionLogRow: masked }, 'action_log row not written: admin database unreachable');
    return false;
  }
  try {
    await insertActionLog(db, masked);
    return true;
  } catch (err) {
    io.log.error({ unrecordedActionLogRow: masked, err: io.mask(errorText(err)) }, 'could not write an action_log row');
    return false;
  }
}
