// One backup, start to end: work out its steps, write the 'start' row, stream each object into S3, write the 'end'
// row. A failure anywhere fails this backup only, and leaves no object behind. Containers and the admin DB's own
// backup are both jobs (jobs.ts); this is the one place that runs them.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { BackupRow } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import type { DumpStep } from '../engines/index.js';
import { BackupFailed, errorText, FailureWithStderr } from '../errors.js';
import type { BackupType } from '../run/plan.js';
import { backupFolder, MANIFEST_NAME, newFolderId, ownerSegment, s3Url, type BackupOwner } from '../storage/layout.js';
import { folderIsEmpty, folderKeys, listFolder } from '../storage/listing.js';
import { ManifestStoredWrongly, newManifest, putManifest, type ManifestObject, type ManifestOwner } from '../storage/manifest.js';
import { CleanupFailed, describeS3Error, type LeftBehind } from '../storage/s3-errors.js';
import { deleteObjects } from '../storage/s3.js';
import { formatBytes, formatDuration } from '../util/format.js';
import type { Masker } from '../util/mask.js';
import { formatBackupId, monotonicNow, msSince } from '../util/time.js';
import { renderCommand } from './command.js';
import { mibPerSecond, streamStepToS3 } from './stream-step.js';

export interface BackupJob {
  /** The name in backups rows (the container's Name). */
  name: string;
  cId: number | null;
  /** Whose folder the backup goes into (storage/layout.ts). */
  owner: BackupOwner;
  /** Who this backup is of, as its manifest records it (restore and verify check it). */
  identity: ManifestOwner;
  backupType: BackupType;
  /** The engine's name (Postgres, MariaDB, MongoDB), for the manifest. */
  engine: string;
  /** The steps, after asking the server what it holds; throws BackupFailed when the job cannot run. */
  steps(): Promise<DumpStep[]>;
}

export interface BackupDeps {
  config: Config;
  client: S3Client;
  mask: Masker;
  log: Logger;
  signal: AbortSignal;
  /** Writes one backups row; never throws (rows that cannot be written are logged whole). */
  recordRow: (row: BackupRow) => Promise<void>;
  /**
   * The backups rows' backup_id for a backup of this job starting at local time `candidate`, unique among the job's
   * rows (a second backup in the same second, or in the hour DST repeats, gets a suffix). Absent: the candidate.
   */
  uniqueBackupId?: (job: BackupJob, candidate: string) => Promise<string>;
  /** The moment a backup is named by (folder, backup_id, the manifest's startedAt); default the real time. For tests. */
  clock?: () => Date;
}

export interface BackupResult {
  name: string;
  cId: number | null;
  owner: BackupOwner;
  backupType: BackupType;
  /** The backups rows' backup_id (local time). */
  backupId: string;
  /** The backup's folder key (ends in '/'). */
  folder: string;
  url: string;
  command: string;
  ok: boolean;
  /** err_msg as written to the backups row ('' on success). */
  errMsg: string;
  bytes: number;
  durationMs: number;
  objects: { key: string; bytes: number; sha256: string }[];
  /** What this failed backup wrote and could not remove (a permission missing): named in the mail, to remove by hand. */
  leftBehind: LeftBehind[];
  /** The manifest written last (successful backups only). */
  manifest?: { key: string; bytes: number };
}

const ERR_MSG_MAX = 2000;

export function errMsgOf(err: unknown, mask: Masker): string {
  const message = errorText(err);
  const tail = err instanceof FailureWithStderr && err.stderrTail && !message.includes(err.stderrTail) ? `\n${err.stderrTail}` : '';
  return mask(`ERROR: ${message}${tail}`).slice(0, ERR_MSG_MAX);
}

export async function runBackupJob(job: BackupJob, deps: BackupDeps): Promise<BackupResult> {
  const { config, mask } = deps;
  const started = monotonicNow();
  const namedAt = deps.clock?.() ?? new Date();
  const localId = formatBackupId(namedAt);
  let folder = backupFolder(config.s3.prefix, ownerSegment(job.owner), newFolderId(namedAt));
  let backupId = localId;
  let log = deps.log.child({ container: job.name, backupId, backupType: job.backupType });
  const result: BackupResult = {
    name: job.name,
    cId: job.cId,
    owner: job.owner,
    backupType: job.backupType,
    backupId,
    folder,
    url: s3Url(config.s3.bucket, folder),
    command: '',
    ok: false,
    errMsg: '',
    bytes: 0,
    durationMs: 0,
    objects: [],
    leftBehind: [],
  };
  const row = (state: 'start' | 'end'): BackupRow => ({
    cId: result.cId,
    name: result.name,
    state,
    backupId: result.backupId,
    backupType: job.backupType,
    url: result.url,
    command: result.command,
    errMsg: state === 'end' ? result.errMsg : '',
  });

  let startWritten = false;
  /** The folder was checked empty: everything in it is this backup's. */
  let folderOwned = false;
  /** Keys this backup wrote that are not data objects (a manifest stored wrongly), removed with them on failure. */
  const written: string[] = [];
  try {
    if (deps.signal.aborted) throw new BackupFailed('interrupted');
    backupId = result.backupId = (await deps.uniqueBackupId?.(job, localId)) ?? localId;
    log = deps.log.child({ container: job.name, backupId, backupType: job.backupType });
    folder = result.folder = await emptyFolder(deps, job, namedAt, folder);
    folderOwned = true;
    result.url = s3Url(config.s3.bucket, folder);
    const steps = await job.steps();
    result.command = steps.map((s) => `${renderCommand(s.command, mask)} > ${s.objectName}`).join(' ; ');
    // One object: the url is the object; several (PostgreSQL): the url is the folder holding them.
    if (steps.length === 1 && steps[0]) result.url = s3Url(config.s3.bucket, folder + steps[0].objectName);
    await deps.recordRow(row('start'));
    startWritten = true;
    log.info({ url: result.url, objects: steps.length }, 'backup started');

    const listed: ManifestObject[] = [];
    for (const step of steps) {
      const key = folder + step.objectName;
      const out = await streamStepToS3(step, key, {
        client: deps.client,
        s3: config.s3,
        mask,
        log,
        stallTimeoutMs: config.stallTimeoutMs,
        deadline: started + config.timeoutMs,
        progressIntervalMs: config.progressIntervalMs,
        signal: deps.signal,
        countRows: config.countRows,
      });
      result.objects.push({ key, bytes: out.bytes, sha256: out.sha256 });
      result.bytes += out.bytes;
      listed.push({
        name: step.objectName,
        ...(step.database !== undefined ? { database: step.database } : {}),
        bytes: out.bytes,
        sha256: out.sha256,
        ...(out.rows && 'counts' in out.rows ? { rows: out.rows.counts } : {}),
        ...(out.rows && 'error' in out.rows ? { rowsError: mask(out.rows.error) } : {}),
      });
      log.info({ key, bytes: out.bytes, parts: out.parts, sha256: out.sha256, mibps: mibPerSecond(out.bytes, out.durationMs) }, 'object uploaded');
    }
    // Last: a backup whose manifest is there is complete (restore checks the digests, verify the row counts).
    const manifestKey = folder + MANIFEST_NAME;
    const manifest = newManifest({
      name: job.name,
      backupId,
      folder: folder.split('/').at(-2) ?? '',
      owner: job.identity,
      backupType: job.backupType,
      engine: job.engine,
      startedAt: namedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      objects: listed,
    });
    try {
      result.manifest = { key: manifestKey, bytes: await putManifest(deps.client, config.s3, manifestKey, manifest) };
    } catch (err) {
      if (err instanceof ManifestStoredWrongly) written.push(manifestKey);
      throw new BackupFailed(`writing the manifest ${s3Url(config.s3.bucket, manifestKey)} failed: ${mask(describeS3Error(err))}`);
    }
    result.ok = true;
  } catch (err) {
    result.errMsg = errMsgOf(err, mask);
    if (err instanceof BackupFailed) result.leftBehind.push(...err.leftBehind);
    written.push(...result.objects.map((o) => o.key));
    result.objects = [];
    // What S3 holds in the folder, too: a write whose answer never came (the connection dropped) may have been stored.
    if (folderOwned) written.push(...(await keysInFolder(deps, folder, log)));
    const toRemove = [...new Set(written)];
    if (toRemove.length) {
      // A half backup must not look like one: remove what this backup wrote (its folder is its own).
      await deleteObjects(deps.client, config.s3.bucket, toRemove).catch((e: unknown) => {
        log.error({ err: mask(String(e)) }, 'could not delete the objects of the failed backup');
        if (e instanceof CleanupFailed) result.leftBehind.push(...e.leftBehind);
      });
    }
  }
  result.durationMs = msSince(started);
  if (!startWritten) await deps.recordRow(row('start'));
  await deps.recordRow(row('end'));
  if (result.ok) {
    log.info(
      { url: result.url, bytes: result.bytes, durationMs: result.durationMs, mibps: mibPerSecond(result.bytes, result.durationMs) },
      `backup done: ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`,
    );
  } else {
    log.error({ url: result.url, err: result.errMsg, durationMs: result.durationMs }, 'backup failed');
  }
  return result;
}

/** Every key in the backup's folder; none when it cannot be listed (the keys the backup knows it wrote are removed). */
async function keysInFolder(deps: BackupDeps, folder: string, log: Logger): Promise<string[]> {
  try {
    const listed = await listFolder(deps.client, deps.config.s3.bucket, folder);
    return listed ? folderKeys(listed) : [];
  } catch (err) {
    log.warn({ err: deps.mask(describeS3Error(err)) }, 'could not list the failed backup\'s folder: removing the objects it knows it wrote');
    return [];
  }
}

/**
 * A backup never writes into a folder that already holds anything: the folder id is random past the millisecond, and
 * is checked empty before the first write (in the rare case it is not, another id is drawn). Conditional writes
 * (BACKUP_S3_CONDITIONAL_WRITES) then make S3 itself refuse an overwrite where the store supports them.
 */
async function emptyFolder(deps: BackupDeps, job: BackupJob, namedAt: Date, first: string): Promise<string> {
  const { config } = deps;
  let folder = first;
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (await folderIsEmpty(deps.client, config.s3.bucket, folder)) return folder;
    } catch (err) {
      throw new BackupFailed(`cannot list ${s3Url(config.s3.bucket, folder)} to check it is empty: ${deps.mask(describeS3Error(err))}`);
    }
    if (attempt === 5) throw new BackupFailed(`${attempt} new folders for this backup all held objects already (last: ${s3Url(config.s3.bucket, folder)})`);
    deps.log.warn({ container: job.name, folder }, 'the new backup folder already holds objects: drawing another');
    folder = backupFolder(config.s3.prefix, ownerSegment(job.owner), newFolderId(namedAt));
  }
}
