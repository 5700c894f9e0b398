// What earlier runs left behind: backups whose process died (a start row and no end row), objects of failed backups
// that could not be removed then, multipart uploads nobody will complete, and temporary directories of killed
// processes. A run finds and removes them at its start, owner by owner under the owner's claim, so nothing a live
// process is writing is touched; `check` reports them.
import type { S3Client } from '@aws-sdk/client-s3';
import { AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { AdminDb } from '../admin-db/pool.js';
import { ABANDONED_ERR_PREFIX, failedBackupUrls, openStarts, ownersWithLeftovers, type BackupRow, type RowOwner } from '../admin-db/queries.js';
import type { Claims } from './claims.js';
import type { Config } from '../config.js';
import { removeStaleTempDirs } from '../pipeline/command.js';
import { ADMIN_DB_NAME, isFolderId, parseBackupKey, parseOwnerSegment, s3Url } from '../storage/layout.js';
import { folderKeys, listFolder, listOpenUploads, type OpenUpload } from '../storage/listing.js';
import { missingFromFolder, readManifest } from '../storage/manifest.js';
import { deleteObjects } from '../storage/s3.js';
import { CleanupFailed, describeLeftBehind, leftBehindOf, type LeftBehind } from '../storage/s3-errors.js';
import type { Masker } from '../util/mask.js';
import { errorText } from '../errors.js';

/** A backup whose process died: its start row got an end row from a later run. */
export interface AbandonedBackup {
  name: string;
  backupId: string;
  backupType: string;
  url: string;
  startedAt: Date;
}

export interface Leftovers {
  /** Closed with an `ERROR: abandoned` end row: failures (their objects removed where permitted). */
  abandoned: AbandonedBackup[];
  /** Their process died after the backup was whole (its manifest written): closed as successful. */
  completed: AbandonedBackup[];
  /** What was removed: objects, uploads, temporary directories. */
  removed: string[];
  /** What could not be removed (a permission is missing). */
  notRemoved: string[];
  /** Why something could not even be looked at (e.g. listing uploads denied). */
  notes: string[];
}

export interface LeftoversContext {
  db: AdminDb;
  client: S3Client;
  config: Config;
  claims: Claims;
  log: Logger;
  mask: Masker;
  /** Writes one backups row; never throws. */
  recordRow: (row: BackupRow) => Promise<void>;
}

/** How far back rows are looked at: older ones are history, not tonight's trouble. */
const LOOKBACK_MS = 7 * 24 * 3_600_000;

export const emptyLeftovers = (): Leftovers => ({ abandoned: [], completed: [], removed: [], notRemoved: [], notes: [] });

/** The folder a backups row's url points into (the folder itself, or its one object), as a key ending in '/'. */
function folderOfUrl(bucket: string, url: string): string | undefined {
  const head = `s3://${bucket}/`;
  if (!url.startsWith(head)) return undefined;
  const key = url.slice(head.length);
  return key.endsWith('/') ? key : key.slice(0, key.lastIndexOf('/') + 1);
}

/** Is this folder the owner's own (current layout), so that everything in it may be removed? */
function ownFolder(config: Config, owner: RowOwner, folder: string): boolean {
  const parsed = parseBackupKey(config.s3.prefix, `${folder}x`);
  if (!parsed || !isFolderId(parsed.folderId)) return false;
  const seg = parseOwnerSegment(parsed.segment);
  return owner.cId === null ? seg?.kind === 'admin-db' && owner.name === ADMIN_DB_NAME : seg?.kind === 'container' && seg.id === owner.cId;
}

/** Removes every object of a folder that is the owner's own; records what went and what could not. */
async function emptyFolder(ctx: LeftoversContext, owner: RowOwner, folder: string, out: Leftovers): Promise<void> {
  const { bucket } = ctx.config.s3;
  if (!ownFolder(ctx.config, owner, folder)) return; // a legacy folder may be shared: left alone
  const listed = await listFolder(ctx.client, bucket, folder);
  if (!listed) return;
  const keys = folderKeys(listed);
  try {
    await deleteObjects(ctx.client, bucket, keys);
    out.removed.push(...keys.map((k) => s3Url(bucket, k)));
  } catch (err) {
    const left: LeftBehind[] = err instanceof CleanupFailed ? err.leftBehind : keys.map((k) => leftBehindOf(k, err));
    const notGone = new Set(left.map((l) => l.key));
    out.removed.push(...keys.filter((k) => !notGone.has(k)).map((k) => s3Url(bucket, k)));
    out.notRemoved.push(...left.map((l) => `${owner.name}: ${describeLeftBehind(bucket, l)}`));
  }
}

/**
 * With the owner's claim held (so no live process is backing it up): its backups of the last days that have a start
 * row and no end row were left by a process that died. Each gets an end row: successful when the backup is whole
 * (its manifest written, every object there at its size), else `ERROR: abandoned …`, and its objects are removed.
 */
export async function closeAbandoned(ctx: LeftoversContext, owner: RowOwner): Promise<Leftovers> {
  const out = emptyLeftovers();
  const { bucket } = ctx.config.s3;
  let open;
  try {
    open = await openStarts(ctx.db, owner, new Date(Date.now() - LOOKBACK_MS));
  } catch (err) {
    ctx.log.warn({ container: owner.name, err: ctx.mask(errorText(err)) }, 'cannot look for abandoned backups');
    return out;
  }
  for (const o of open) {
    const folder = folderOfUrl(bucket, o.url);
    const listed = folder && ownFolder(ctx.config, owner, folder) ? await listFolder(ctx.client, bucket, folder).catch(() => undefined) : undefined;
    const manifest = listed?.manifest ? await readManifest(ctx.client, bucket, listed.folder).catch(() => undefined) : undefined;
    const whole = listed !== undefined && manifest !== undefined && missingFromFolder(manifest, listed).length === 0;
    const backup = { name: owner.name, backupId: o.backupId, backupType: o.backupType, url: o.url, startedAt: o.startedAt };
    const errMsg = whole
      ? ''
      : `${ABANDONED_ERR_PREFIX} the process that started this backup at ${o.startedAt.toISOString()} stopped before it ended (killed, or its host went down); found by a later run`;
    await ctx.recordRow({ cId: owner.cId, name: owner.name, state: 'end', backupId: o.backupId, backupType: o.backupType, url: o.url, command: o.command, errMsg });
    if (whole) {
      out.completed.push(backup);
      ctx.log.warn({ container: owner.name, backupId: o.backupId, url: o.url }, 'found a backup whose process died after it was whole: its end row says so now');
    } else {
      out.abandoned.push(backup);
      ctx.log.error({ container: owner.name, backupId: o.backupId, url: o.url }, 'found an abandoned backup: its end row says so now');
      if (folder) await emptyFolder(ctx, owner, folder, out);
    }
  }
  return out;
}

export function mergeLeftovers(into: Leftovers, more: Leftovers): Leftovers {
  into.abandoned.push(...more.abandoned);
  into.completed.push(...more.completed);
  into.removed.push(...more.removed);
  into.notRemoved.push(...more.notRemoved);
  into.notes.push(...more.notes);
  return into;
}

/** The owner an upload's key belongs to (current layout); undefined for keys of the legacy layout or elsewhere. */
function ownerOfKey(config: Config, key: string): RowOwner | { cId: number; name?: undefined } | undefined {
  const parsed = parseBackupKey(config.s3.prefix, key);
  const seg = parsed && isFolderId(parsed.folderId) ? parseOwnerSegment(parsed.segment) : undefined;
  if (seg?.kind === 'admin-db') return { cId: null, name: ADMIN_DB_NAME };
  if (seg?.kind === 'container') return { cId: seg.id };
  return undefined;
}

/**
 * At the start of a run: every owner with leftovers (rows of the last days, open uploads under the prefix), each under
 * its claim (an owner a live process holds is skipped), and the temporary directories of dead processes. Never throws.
 */
export async function sweepLeftovers(ctx: LeftoversContext): Promise<Leftovers> {
  const out = emptyLeftovers();
  const { bucket, prefix } = ctx.config.s3;
  out.removed.push(...(await removeStaleTempDirs()));
  let owners: RowOwner[] = [];
  try {
    owners = await ownersWithLeftovers(ctx.db, new Date(Date.now() - LOOKBACK_MS));
  } catch (err) {
    out.notes.push(`cannot read the backups log for leftovers: ${ctx.mask(errorText(err))}`);
  }
  let uploads: OpenUpload[] = [];
  try {
    uploads = await listOpenUploads(ctx.client, bucket, prefix);
  } catch (err) {
    out.notes.push(
      `cannot list incomplete multipart uploads under ${s3Url(bucket, prefix ? `${prefix}/` : '')} (s3:ListBucketMultipartUploads): ` +
        `the lifecycle rule's AbortIncompleteMultipartUpload is what removes them (${ctx.mask(errorText(err))})`,
    );
  }
  const key = (o: { cId: number | null }) => String(o.cId ?? 'admin');
  const byOwner = new Map<string, { owner: { cId: number | null; name?: string | undefined }; uploads: OpenUpload[] }>();
  for (const owner of owners) byOwner.set(key(owner), { owner, uploads: [] });
  for (const upload of uploads) {
    const owner = ownerOfKey(ctx.config, upload.key);
    if (!owner) continue; // the legacy layout's: the lifecycle rule's job
    const entry = byOwner.get(key(owner)) ?? { owner, uploads: [] };
    entry.uploads.push(upload);
    byOwner.set(key(owner), entry);
  }
  for (const { owner: partial, uploads: ownerUploads } of byOwner.values()) {
    const owner: RowOwner = { cId: partial.cId, name: partial.name ?? `container ${partial.cId}` };
    const claim = await ctx.claims.claim(owner);
    if (claim.kind !== 'claimed') continue; // live, or the admin DB is gone: next time
    try {
      mergeLeftovers(out, await closeAbandoned(ctx, owner));
      const failed = await failedBackupUrls(ctx.db, owner, new Date(Date.now() - LOOKBACK_MS)).catch(() => [] as string[]);
      for (const url of failed) {
        const folder = folderOfUrl(bucket, url);
        if (folder) await emptyFolder(ctx, owner, folder, out).catch(() => {});
      }
      for (const upload of ownerUploads) {
        const what = `multipart upload ${upload.uploadId} of ${s3Url(bucket, upload.key)}`;
        await ctx.client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }))
          .then(
            () => out.removed.push(what),
            (err: unknown) => out.notRemoved.push(`${owner.name}: ${describeLeftBehind(bucket, leftBehindOf(upload.key, err, upload.uploadId))}`),
          );
      }
    } finally {
      await ctx.claims.release(owner);
    }
  }
  if (out.removed.length) ctx.log.info({ removed: out.removed }, `removed ${out.removed.length} leftovers of earlier runs`);
  if (out.notRemoved.length) ctx.log.error({ notRemoved: out.notRemoved }, `could not remove ${out.notRemoved.length} leftovers of earlier runs`);
  return out;
}
