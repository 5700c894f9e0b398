// Which backup a restore reads: the container's folder in S3, joined with the backups log to pick one.
import type { S3Client } from '@aws-sdk/client-s3';
import { backupLog, containerByName, type LoggedBackup } from '../admin-db/restore-queries.js';
import type { AdminDb } from '../admin-db/pool.js';
import type { Config } from '../config.js';
import { findEngine, type Engine } from '../engines/index.js';
import { mariadb } from '../engines/mariadb.js';
import { archiveObjects, mongodb } from '../engines/mongodb.js';
import { safeSegment } from '../engines/names.js';
import { isDatabaseDump, isGlobalsObject, postgres } from '../engines/postgres.js';
import { ConfigError, RestoreFailed } from '../errors.js';
import { ADMIN_DB_SEGMENT } from '../pipeline/jobs.js';
import { containerFolder, listBackupFolders, type BackupFolder } from '../storage/listing.js';
import { readManifest, type Manifest } from '../storage/manifest.js';
import { s3Url } from '../storage/s3.js';
import type { ObjectRef } from '../pipeline/restore-step.js';

export interface BackupSource {
  /** The container's name as given (the name in backups rows). */
  name: string;
  segment: string;
  cId: number | null;
  engine: Engine;
  folder: BackupFolder;
  logged?: LoggedBackup;
  /** Why this backup: for the operator and the action_log row. */
  reason: string;
  /** What the backup wrote (backups made before manifests existed have none). */
  manifest?: Manifest;
}

/** One object of the backup, with the digest its manifest recorded. */
export function objectRef(source: Pick<BackupSource, 'folder' | 'manifest'>, objectName: string): ObjectRef {
  const sha256 = source.manifest?.objects.find((o) => o.name === objectName)?.sha256;
  return { key: source.folder.folder + objectName, ...(sha256 ? { sha256 } : {}) };
}

/**
 * The manifest of the backup in `folder`, read and held against the folder's objects; undefined when the folder has
 * none (a backup made before manifests). Throws RestoreFailed when it is unreadable or the backup is not whole.
 */
export async function loadManifest(client: S3Client, bucket: string, name: string, folder: BackupFolder, signal?: AbortSignal): Promise<Manifest | undefined> {
  if (!folder.manifest) return undefined;
  const manifest = await readManifest(client, bucket, folder.folder, signal).catch((err: unknown) => {
    throw new RestoreFailed(`backup ${folder.backupId} of '${name}': ${(err as Error).message}`);
  });
  if (!manifest) return undefined;
  const problems = missingFromFolder(manifest, folder);
  if (problems.length) throw new RestoreFailed(`backup ${folder.backupId} of '${name}' is not whole: ${problems.join('; ')}`);
  return manifest;
}

/** Every object the manifest lists must be in the folder, at its size: else the backup is not whole. Pure. */
export function missingFromFolder(manifest: Manifest, folder: BackupFolder): string[] {
  const problems: string[] = [];
  for (const o of manifest.objects) {
    const found = folder.objects.find((f) => f.name === o.name);
    if (!found) problems.push(`${o.name} is missing`);
    else if (found.bytes !== o.bytes) problems.push(`${o.name} is ${found.bytes} bytes, the manifest says ${o.bytes}`);
  }
  return problems;
}

/** The S3 folder segment of a container name; the admin DB's own backups keep theirs. */
export function segmentOf(name: string): string {
  return name === ADMIN_DB_SEGMENT ? ADMIN_DB_SEGMENT : safeSegment(name);
}

/** The engine whose objects these are, when no containers row says (a deleted container). Pure. */
export function engineOfObjects(objectNames: readonly string[]): Engine | undefined {
  if (archiveObjects(objectNames).length) return mongodb;
  if (objectNames.some((n) => isDatabaseDump(n) || isGlobalsObject(n))) return postgres;
  if (objectNames.some((n) => /\.sql(\.gz|\.zst)?$/.test(n))) return mariadb;
  return undefined;
}

/**
 * `--backup-id ID` → that folder; `latest` (or none) → the newest folder with a successful 'end' row in the backups
 * log, else the newest folder in S3. Pure.
 */
export function chooseBackup(
  folders: readonly BackupFolder[],
  log: readonly LoggedBackup[] | undefined,
  wanted: string | undefined,
): { folder: BackupFolder; logged?: LoggedBackup; reason: string } {
  const loggedOf = (id: string) => log?.find((l) => l.backupId === id);
  if (wanted !== undefined && wanted !== 'latest') {
    const folder = folders.find((f) => f.backupId === wanted);
    if (!folder) {
      const newest = folders.slice(0, 5).map((f) => f.backupId);
      throw new ConfigError(`no backup ${wanted} in S3 (newest: ${newest.join(', ') || 'none'}; see backup-all list)`);
    }
    const logged = loggedOf(wanted);
    const note = !logged
      ? 'it has no rows in the backups log'
      : logged.end === undefined
        ? 'the backups log has no end row for it: it may be incomplete'
        : logged.ok
          ? "the backups log says it succeeded"
          : `the backups log says it FAILED: ${logged.errMsg.split('\n')[0]}`;
    return { folder, ...(logged ? { logged } : {}), reason: `--backup-id ${wanted} (${note})` };
  }
  for (const folder of folders) {
    const logged = loggedOf(folder.backupId);
    if (logged?.ok && logged.end) return { folder, logged, reason: "latest: the newest backup with a successful 'end' row in the backups log" };
  }
  const newest = folders[0];
  if (!newest) throw new ConfigError('no backups found');
  const why = log === undefined ? 'the backups log could not be read' : "no folder has a successful 'end' row in the backups log";
  const logged = loggedOf(newest.backupId);
  return { folder: newest, ...(logged ? { logged } : {}), reason: `latest: the newest folder in S3 (${why})` };
}

/** Finds the container's backups and picks one. `db` may be undefined (admin DB down): S3 alone decides. */
export async function findBackup(
  deps: { client: S3Client; config: Config; db: AdminDb | undefined },
  name: string,
  wanted: string | undefined,
): Promise<BackupSource> {
  const { config } = deps;
  const segment = segmentOf(name);
  const folders = await listBackupFolders(deps.client, config.s3.bucket, config.s3.prefix, segment);
  if (folders.length === 0) {
    throw new ConfigError(`no backups of '${name}' in ${s3Url(config.s3.bucket, containerFolder(config.s3.prefix, segment))}`);
  }
  const container = deps.db && name !== ADMIN_DB_SEGMENT ? await containerByName(deps.db, name) : undefined;
  const log = deps.db ? await backupLog(deps.db, name) : undefined;
  const chosen = chooseBackup(folders, log, wanted);
  const names = chosen.folder.objects.map((o) => o.name);
  const engine = name === ADMIN_DB_SEGMENT ? postgres : (container && findEngine(container.engine)) || engineOfObjects(names);
  if (!engine) {
    throw new ConfigError(`cannot tell the engine of backup ${chosen.folder.backupId} of '${name}' (objects: ${names.join(', ')})`);
  }
  const manifest = await loadManifest(deps.client, config.s3.bucket, name, chosen.folder);
  return { name, segment, cId: container?.id ?? chosen.logged?.cId ?? null, engine, ...chosen, ...(manifest ? { manifest } : {}) };
}
