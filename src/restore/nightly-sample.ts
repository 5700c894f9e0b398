// The nightly sample (BACKUP_VERIFY_SAMPLE): after the night's backups, test restores of a few of them, rotating so
// that every container gets its turn, passing over backups S3 has archived; lines for the summary mail.
import type { Logger } from 'pino';
import type { AdminDb } from '../admin-db/pool.js';
import { lastVerified } from '../admin-db/restore-queries.js';
import type { Config } from '../config.js';
import { engineOfObjects, type Engine } from '../engines/index.js';
import type { BackupResult } from '../pipeline/backup-job.js';
import { restoreStepContext } from '../pipeline/restore-step.js';
import { backupAccess } from '../storage/archive.js';
import { listFolder, type BackupFolder } from '../storage/listing.js';
import { createS3Client } from '../storage/s3.js';
import type { Masker } from '../util/mask.js';
import { optionalAdminDb } from './action-log.js';
import { resolvedOwner, type BackupSource } from './source.js';
import { archivedLine, canVerifyEngine, outcomeLine, rotate, shellWord, verifyAndRecord, type VerifyOutcome } from './test-restore.js';
import { errorText } from '../errors.js';
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
      const source = engine && canVerifyEngine(config, engine) ? sourceOfResult(r, engine) : undefined;
      return source ? [source] : [];
    });
    if (candidates.length === 0) {
      const why = Object.keys(config.verify.servers).length ? 'no successful backup of an engine with a verification server' : 'no verification server configured';
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
      outcomes.push(await verifyAndRecord(config, source, db, restoreStepContext(config, ctxIo, client), io));
    }
    const failed = outcomes.filter((o) => o.status === 'failed').length;
    const skipped = archived.length ? `, ${archived.length} skipped: archived` : '';
    return [`${header}: ${outcomes.length - failed} of ${outcomes.length} OK${failed ? `, ${failed} FAILED` : ''}${skipped}`, ...outcomes.map((o) => `  ${outcomeLine(o)}`), ...archived];
  } catch (err) {
    io.log.error({ err: io.mask(errorText(err)) }, 'the nightly test restores failed');
    return [`${header}: could not run: ${io.mask(errorText(err))}`];
  } finally {
    client.destroy();
    if (ownDb) await db?.end().catch(() => {});
  }
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
    log.warn({ folder: folder.folder, err: errorText(err) }, 'could not tell whether the backup is archived');
    return undefined;
  }
}
