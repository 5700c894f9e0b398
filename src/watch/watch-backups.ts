// After a run's backups: each good backup against its owner's earlier good ones in S3 (nothing new in the admin DB),
// for the summary mail (changes, and the size over the last backups) and the audit (a 'suspicious' action_log row per
// flagged backup: watch/flags.ts). Reads the listing of the owner's folders (sizes) and at most two manifests: this
// backup's and the previous one's. Never throws: what cannot be read is a warning in the mail, the backup stands.
import type { Logger } from 'pino';
import type { AdminDb } from '../admin-db/pool.js';
import { containerData } from '../admin-db/watch-queries.js';
import type { Config } from '../config.js';
import type { BackupResult } from '../pipeline/backup-job.js';
import { recordAction } from '../restore/action-log.js';
import { ownerSegment, s3Url } from '../storage/layout.js';
import { listBackupFolders } from '../storage/listing.js';
import { readManifest } from '../storage/manifest.js';
import { describeS3Error } from '../storage/s3-errors.js';
import { createS3Client } from '../storage/s3.js';
import type { Masker } from '../util/mask.js';
import { compareWithHistory, describeChange, whyNotCompared, type Change } from './compare.js';
import { SUSPICIOUS_ACTION, suspiciousDescription } from './flags.js';
import { labelsOf, watchOverrides, type WatchSettings } from './settings.js';
import { errorText } from '../errors.js';

/** How many good backups the trend shows. */
export const TREND_LENGTH = 14;

export interface TrendPoint {
  bytes: number;
  /** When the backup started (UTC), as its folder says. */
  startedAt?: Date;
}

export interface BackupWatch {
  name: string;
  cId: number | null;
  backupId: string;
  /** The backup's folder key (BackupResult.folder), and as an s3:// URL. */
  folder: string;
  url: string;
  /** Sizes of the owner's last good backups, oldest first, this one last (up to TREND_LENGTH). */
  trend: TrendPoint[];
  /** What changed suspiciously since the earlier backups; empty: not flagged. */
  changes: Change[];
  /** Why the backup was not compared (watch off, short history); labels that did not parse. */
  notes: string[];
  /** The earlier backups could not be read, or the flag not recorded: a warning; the backup stands. */
  error?: string;
}

export interface WatchIo {
  log: Logger;
  mask: Masker;
  signal: AbortSignal;
  /** The run's admin DB connection (labels, action_log); undefined when it is unreachable. */
  db?: AdminDb;
}

/** Compares each successful backup of the run with its owner's history, records the flagged ones. Never throws. */
export async function watchBackups(config: Config, results: readonly BackupResult[], io: WatchIo): Promise<BackupWatch[]> {
  const good = results.filter((r) => r.ok && r.manifest);
  if (good.length === 0) return [];
  const settingsOf = await containerSettings(config, good, io);
  const client = createS3Client(config.s3);
  const watched: BackupWatch[] = [];
  try {
    for (const result of good) {
      if (io.signal.aborted) break;
      const { settings, notes } = settingsOf(result);
      const watch = await watchOne(config, client, result, settings, io);
      watch.notes.unshift(...notes);
      if (watch.changes.length) await recordFlag(watch, io);
      watched.push(watch);
    }
  } finally {
    client.destroy();
  }
  return watched;
}

/** Each backup's settings: the global ones, with its container's Info.labels over them. */
async function containerSettings(
  config: Config,
  results: readonly BackupResult[],
  io: WatchIo,
): Promise<(r: BackupResult) => { settings: WatchSettings; notes: string[] }> {
  const ids = results.flatMap((r) => (r.owner.kind === 'container' ? [r.owner.id] : []));
  let data = new Map<number, unknown>();
  let unread: string | undefined;
  if (ids.length && io.db) {
    try {
      data = await containerData(io.db, ids);
    } catch (err) {
      unread = `could not read Info.labels (${io.mask(errorText(err))}): the global BACKUP_WATCH_* settings apply`;
    }
  } else if (ids.length) unread = 'admin database unreachable: the global BACKUP_WATCH_* settings apply';
  return (r) => {
    if (r.owner.kind !== 'container') return { settings: config.watch, notes: [] };
    if (unread) return { settings: config.watch, notes: [unread] };
    const { overrides, problems } = watchOverrides(labelsOf(data.get(r.owner.id)));
    return { settings: { ...config.watch, ...overrides }, notes: problems };
  };
}

async function watchOne(config: Config, client: ReturnType<typeof createS3Client>, r: BackupResult, settings: WatchSettings, io: WatchIo): Promise<BackupWatch> {
  const { bucket, prefix } = config.s3;
  const watch: BackupWatch = { name: r.name, cId: r.cId, backupId: r.backupId, folder: r.folder, url: s3Url(bucket, r.folder), trend: [], changes: [], notes: [] };
  try {
    // Good backups are the current layout's folders with a manifest (written last, by a backup that succeeded).
    const folders = (await listBackupFolders(client, bucket, prefix, ownerSegment(r.owner))).filter((f) => !f.legacy && f.manifest);
    const at = folders.findIndex((f) => f.folder === r.folder);
    if (at < 0) throw new Error(`the backup's own folder ${watch.url} is not in the listing`);
    const mine = folders.slice(at);
    watch.trend = mine
      .slice(0, TREND_LENGTH)
      .reverse()
      .map((f) => ({ bytes: f.bytes, ...(f.startedAt ? { startedAt: f.startedAt } : {}) }));
    const earlier = mine.slice(1);
    const notCompared = whyNotCompared(settings, earlier.length);
    if (notCompared) {
      watch.notes.push(notCompared);
      return watch;
    }
    const current = await readManifest(client, bucket, r.folder, io.signal);
    if (!current) throw new Error(`the backup's manifest ${s3Url(bucket, r.folder)}manifest.json is missing`);
    const previous = await readManifest(client, bucket, earlier[0]!.folder, io.signal);
    const { changes } = compareWithHistory({ current, ...(previous ? { previous } : {}), earlierSizes: earlier.map((f) => f.bytes) }, settings);
    watch.changes = changes;
    if (changes.length) {
      io.log.warn({ container: r.name, backupId: r.backupId, changes: changes.map(describeChange) }, 'suspicious changes since the last backup');
    }
  } catch (err) {
    watch.error = `could not compare with the earlier backups: ${io.mask(describeS3Error(err))}`;
    io.log.warn({ container: r.name, backupId: r.backupId, err: watch.error }, 'backup not compared with the earlier ones');
  }
  return watch;
}

/** The 'suspicious' action_log row the audit reads; one that cannot be written is a warning in the mail. */
async function recordFlag(watch: BackupWatch, io: WatchIo): Promise<void> {
  const description = suspiciousDescription(watch.backupId, watch.url, watch.changes.map(describeChange));
  const written = await recordAction(io.db, { cId: watch.cId, name: watch.name, action: SUSPICIOUS_ACTION, description }, io);
  if (!written) watch.error = 'the flag could not be recorded in action_log: `backup-all audit` will not show it';
}
