// `backup-all verify [NAME…] [--sample N]`: test restores into scratch databases on the verification servers, one
// action_log row ('verify') each. The sample rotates: the containers verified longest ago (or never) go first. A
// backup S3 has archived (GLACIER, DEEP_ARCHIVE) is not read: the sample passes over it, named ones need --thaw.
// The nightly run's own sample is restore/nightly-sample.ts.
import { activeContainers } from '../admin-db/queries.js';
import { lastVerified } from '../admin-db/restore-queries.js';
import type { Config } from '../config.js';
import { ENGINES, findEngine, type Engine } from '../engines/index.js';
import { engineEnvNames } from '../engines/settings.js';
import { postgres } from '../engines/postgres.js';
import { BackupArchived, ConfigError, RestoreFailed } from '../errors.js';
import { optionalAdminDb, recordAction } from '../restore/action-log.js';
import { findBackup, type BackupSource, type OwnerRequest } from '../restore/source.js';
import type { ThawOptions } from '../restore/thaw.js';
import { archivedLine, canVerifyEngine, outcomeLine, rotate, shellWord, verifyAndRecord, type VerifyOutcome } from '../restore/test-restore.js';
import { restoreStepContext } from '../pipeline/restore-step.js';
import { ADMIN_DB_NAME } from '../storage/layout.js';
import { createS3Client } from '../storage/s3.js';
import { type CommandIo } from './context.js';
import { thawWith } from './restore.js';

export interface VerifyOptions {
  names: string[];
  /** The admin DB's own backups too (with names), or alone. */
  adminDb?: boolean;
  /** Verify this many (rotating), of the named containers or of every active one. */
  sample?: number;
  backupId?: string;
  /** An archived backup: ask S3 to thaw it and wait (--thaw, one backup only); without, it is passed over. */
  thaw?: ThawOptions;
}

const canVerify = (config: Config, engine: Engine | undefined) => engine !== undefined && canVerifyEngine(config, engine);

export async function runVerify(config: Config, opts: VerifyOptions, io: CommandIo): Promise<number> {
  if (Object.keys(config.verify.servers).length === 0) {
    const settings = ENGINES.flatMap((e) => engineEnvNames(e).verifyUrl ?? []);
    throw new ConfigError(`no verification server: set ${settings.join(' and/or ')}`);
  }
  const named = opts.names.length + (opts.adminDb ? 1 : 0);
  if (opts.backupId !== undefined && named !== 1) throw new ConfigError('--backup-id goes with one container name (or --admin-db alone)');
  if (opts.thaw && named !== 1) throw new ConfigError('--thaw goes with one container name (or --admin-db alone)');
  const client = createS3Client(config.s3);
  const db = await optionalAdminDb(config, io, named === 0);
  try {
    // What to verify: each with the name its rotation and action_log row go by.
    let wanted: { name: string; request: OwnerRequest }[] = [
      ...(opts.adminDb ? [{ name: ADMIN_DB_NAME, request: { adminDb: true } as const }] : []),
      ...opts.names.map((name) => ({ name, request: { name } })),
    ];
    if (named === 0) {
      // Every active container whose engine has a verification server, and the admin DB itself.
      const active = (await activeContainers(db!)).filter((c) => !c.problem && canVerify(config, findEngine(c.engine)));
      wanted = [
        ...(canVerify(config, postgres) ? [{ name: ADMIN_DB_NAME, request: { adminDb: true } as const }] : []),
        ...active.map((c) => ({ name: c.name, request: { name: c.name, id: c.id } })),
      ];
    }
    if (opts.sample !== undefined) {
      // All of them in rotation order: archived backups are passed over, the next ones take their place.
      const last = db ? await lastVerified(db, wanted.map((w) => w.name)) : new Map<string, Date>();
      wanted = rotate(wanted, last, wanted.length);
    }
    if (wanted.length === 0) {
      io.print('Nothing to verify: no active container has a verification server for its engine.');
      return 0;
    }
    const count = Math.min(wanted.length, opts.sample ?? wanted.length);
    io.print(`Verifying ${count} backup${count === 1 ? '' : 's'} by test restores:`);
    const outcomes: VerifyOutcome[] = [];
    let archived = 0;
    const whenArchived = thawWith(config, io, client, opts.thaw);
    for (const { name, request } of wanted) {
      if (io.signal.aborted || outcomes.length >= count) break;
      let source: BackupSource;
      try {
        source = await findBackup({ client, config, db }, request, opts.backupId, whenArchived ? { whenArchived } : {});
      } catch (err) {
        if (err instanceof BackupArchived) {
          // Not a verification, so no action_log row: the rotation keeps it first for when it can be read.
          archived += 1;
          const who = 'adminDb' in request ? '--admin-db' : shellWord(name);
          io.print(named === 1 ? `ARCHIVED ${name}: ${err.message}` : `ARCHIVED ${name} ${err.backup.label}: ${archivedLine(who, err.backup)}`);
          continue;
        }
        if (!(err instanceof ConfigError || err instanceof RestoreFailed)) throw err;
        const outcome: VerifyOutcome = { name, backupId: '-', engine: '?', status: 'failed', summary: err.message, databases: [], bytes: 0, durationMs: 0 };
        outcomes.push(outcome);
        io.print(outcomeLine(outcome));
        // Recorded too, so the rotation moves on to the others instead of picking this one every time.
        await recordAction(db, { cId: 'id' in request ? (request.id ?? null) : null, name, action: 'verify', description: `verify: FAILED: ${err.message}` }, io);
        continue;
      }
      const outcome = await verifyAndRecord(config, source, db, restoreStepContext(config, io, client), io);
      outcomes.push(outcome);
      io.print(outcomeLine(outcome));
    }
    const failed = outcomes.filter((o) => o.status === 'failed').length;
    const skipped = outcomes.filter((o) => o.status === 'skipped').length;
    io.print(`${outcomes.length - failed - skipped} verified, ${failed} failed, ${skipped} could not be verified${archived ? `, ${archived} skipped: archived` : ''}`);
    // A container named on the command line that could not be verified is a failure too; one archived is exit 5
    // (a sample passes over archived backups: that is how it picks).
    if (failed > 0 || (named > 0 && skipped > 0) || io.signal.aborted) return 1;
    return named > 0 && archived > 0 && opts.sample === undefined ? 5 : 0;
  } finally {
    client.destroy();
    await db?.end().catch(() => {});
  }
}
