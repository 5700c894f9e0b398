// `backup-all verify [NAME…] [--sample N]` and the nightly sample (BACKUP_VERIFY_SAMPLE): test restores into scratch
// databases on the verification servers, one action_log row ('verify') each. The sample rotates: the containers
// verified longest ago (or never) go first, so over the nights every container gets its turn. A backup S3 has
// archived (GLACIER, DEEP_ARCHIVE) is not read: the sample passes over it to the next, named ones need --thaw.
import type { Logger } from 'pino';
import type { AdminDb } from '../admin-db/pool.js';
import { activeContainers } from '../admin-db/queries.js';
import { lastVerified } from '../admin-db/restore-queries.js';
import type { Config } from '../config.js';
import { findEngine, type Engine } from '../engines/index.js';
import { postgres } from '../engines/postgres.js';
import { BackupArchived, ConfigError, RestoreFailed } from '../errors.js';
import type { BackupResult } from '../pipeline/backup-job.js';
import { optionalAdminDb, recordAction } from '../restore/admin.js';
import { backupLabel, engineOfObjects, findBackup, resolvedOwner, type BackupSource, type OwnerRequest } from '../restore/source.js';
import type { ThawOptions } from '../restore/thaw.js';
import { canVerifyEngine, verifyBackup, type VerifyOutcome } from '../restore/verify.js';
import { backupAccess } from '../storage/archive.js';
import { ADMIN_DB_NAME, s3Url } from '../storage/layout.js';
import { listFolder, type BackupFolder } from '../storage/listing.js';
import { createS3Client } from '../storage/s3.js';
import type { Masker } from '../util/mask.js';
import { stepContext, thawWith, type CommandIo } from './restore.js';

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

const canVerify = (config: Config, engine: Engine | undefined) => engine !== undefined && canVerifyEngine(config, engine.configKey);

/** Least recently verified first (never verified before all), then by name: the rotation. Pure. */
export function rotate<T extends { name: string }>(items: readonly T[], last: ReadonlyMap<string, Date>, n: number): T[] {
  const time = (name: string) => last.get(name)?.getTime() ?? -Infinity;
  return [...items].sort((a, b) => time(a.name) - time(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, n);
}

async function verifyAndRecord(config: Config, source: BackupSource, db: AdminDb | undefined, ctx: ReturnType<typeof stepContext>, io: { log: Logger; mask: Masker }): Promise<VerifyOutcome> {
  const outcome = await verifyBackup(source, config, ctx);
  io.log[outcome.status === 'failed' ? 'error' : 'info'](
    { container: source.name, backupId: source.backupId, folder: source.folder.folderId, status: outcome.status, durationMs: outcome.durationMs },
    `verify ${outcome.status}: ${outcome.summary}`,
  );
  if (outcome.status !== 'skipped') {
    const description = `verify of backup ${backupLabel(source)} (${s3Url(config.s3.bucket, source.folder.folder)}): ${outcome.status.toUpperCase()}: ${outcome.summary}`;
    await recordAction(db, { cId: source.cId, name: source.name, action: 'verify', description }, io);
  }
  return outcome;
}

export const outcomeLine = (o: VerifyOutcome) => `${o.status.toUpperCase().padEnd(7)} ${o.name} ${o.backupId}: ${o.summary}`;

export async function runVerify(config: Config, opts: VerifyOptions, io: CommandIo): Promise<number> {
  if (!config.verify.postgresUrl && !config.verify.mariadbUrl) {
    throw new ConfigError('no verification server: set BACKUP_VERIFY_POSTGRES_URL and/or BACKUP_VERIFY_MARIADB_URL');
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
      const outcome = await verifyAndRecord(config, source, db, stepContext(config, io, client), io);
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

/** A backup just made, as a restore source (its objects are the ones the run uploaded). */
function sourceOfResult(r: BackupResult, engine: Engine): BackupSource | undefined {
  if (r.objects.length === 0) return undefined;
  const folderId = r.folder.split('/').at(-2) ?? '';
  const folder: BackupFolder = {
    folderId,
    folder: r.folder,
    legacy: false,
    objects: r.objects.map((o) => ({ name: o.key.slice(r.folder.length), key: o.key, bytes: o.bytes })),
    bytes: r.bytes,
    ...(r.manifest ? { manifest: { name: r.manifest.key.slice(r.folder.length), ...r.manifest } } : {}),
  };
  return { ...resolvedOwner(r.owner), engine, folder, backupId: r.backupId, reason: "tonight's backup", manifestExpected: true };
}

/**
 * The nightly sample: verifies BACKUP_VERIFY_SAMPLE of the run's successful backups (rotating), records each in
 * action_log, and returns lines for the summary mail (none when the sample is 0). Never throws.
 */
export async function verifySample(
  config: Config,
  results: readonly BackupResult[],
  io: { log: Logger; mask: Masker; signal?: AbortSignal; db?: AdminDb },
): Promise<string[]> {
  const n = config.verify.sample;
  if (n <= 0) return [];
  const header = `Test restores (BACKUP_VERIFY_SAMPLE=${n})`;
  const client = createS3Client(config.s3);
  let db = io.db;
  let ownDb = false;
  try {
    const candidates = results.flatMap((r) => {
      if (!r.ok || r.objects.length === 0) return [];
      const engine = engineOfObjects(r.objects.map((o) => o.key.split('/').pop() ?? ''));
      const source = engine && canVerify(config, engine) ? sourceOfResult(r, engine) : undefined;
      return source ? [source] : [];
    });
    if (candidates.length === 0) {
      const why = config.verify.postgresUrl || config.verify.mariadbUrl ? 'no successful backup of an engine with a verification server' : 'no verification server configured';
      return [`${header}: none (${why})`];
    }
    if (!db) {
      db = await optionalAdminDb(config, io, false).catch(() => undefined);
      ownDb = db !== undefined;
    }
    const last = db ? await lastVerified(db, candidates.map((c) => c.name)).catch(() => new Map<string, Date>()) : new Map<string, Date>();
    const signal = io.signal ?? new AbortController().signal;
    const ctxIo = { log: io.log, mask: io.mask, print: () => {}, signal };
    const outcomes: VerifyOutcome[] = [];
    const archived: string[] = [];
    // In rotation order until n are verified, passing over backups S3 has archived (they cannot be read unthawed).
    for (const source of rotate(candidates, last, candidates.length)) {
      if (signal.aborted || outcomes.length >= n) break;
      const archiveClass = await archivedNow(client, config.s3.bucket, source.folder, io.log);
      if (archiveClass) {
        const who = source.owner.kind === 'admin-db' ? '--admin-db' : shellWord(source.name);
        archived.push(`  ARCHIVED ${source.name} ${source.backupId}: ${archivedLine(who, { folderId: source.folder.folderId, archiveClass })}`);
        continue;
      }
      outcomes.push(await verifyAndRecord(config, source, db, stepContext(config, ctxIo, client), io));
    }
    const failed = outcomes.filter((o) => o.status === 'failed').length;
    const skipped = archived.length ? `, ${archived.length} skipped: archived` : '';
    return [`${header}: ${outcomes.length - failed} of ${outcomes.length} OK${failed ? `, ${failed} FAILED` : ''}${skipped}`, ...outcomes.map((o) => `  ${outcomeLine(o)}`), ...archived];
  } catch (err) {
    io.log.error({ err: io.mask((err as Error).message) }, 'the nightly test restores failed');
    return [`${header}: could not run: ${io.mask((err as Error).message)}`];
  } finally {
    client.destroy();
    if (ownDb) await db?.end().catch(() => {});
  }
}

const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** `in GLACIER, not readable without a thaw (backup-all verify NAME --backup-id FOLDER --thaw)`. Pure. */
function archivedLine(who: string, backup: { folderId: string; archiveClass?: string }): string {
  return `in ${backup.archiveClass ?? 'an archive storage class'}, not readable without a thaw (backup-all verify ${who} --backup-id ${backup.folderId} --thaw)`;
}

/**
 * The archive class of a backup S3 has archived and that cannot be read now; undefined when it can be read (or when
 * its folder cannot be looked at: the verification then says what is wrong).
 */
async function archivedNow(client: ReturnType<typeof createS3Client>, bucket: string, folder: BackupFolder, log: Logger): Promise<string | undefined> {
  try {
    const listed = await listFolder(client, bucket, folder.folder);
    if (!listed) return undefined;
    const access = await backupAccess(client, bucket, listed);
    return access.readable ? undefined : access.archiveClass;
  } catch (err) {
    log.warn({ folder: folder.folder, err: (err as Error).message }, 'could not tell whether the backup is archived');
    return undefined;
  }
}
