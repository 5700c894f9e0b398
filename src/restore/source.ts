// Which backup a restore, a verification or a listing reads: whose backups (one container, refused when a name
// stands for several, or the admin DB), their folders in S3 (current and legacy layout), joined with the backups log
// to pick one, and its manifest, held against the owner asked for.
import type { S3Client } from '@aws-sdk/client-s3';
import { backupLog, containerById, containersNamed, type LoggedBackup, type NamedContainer } from '../admin-db/restore-queries.js';
import type { AdminDb } from '../admin-db/pool.js';
import type { Config } from '../config.js';
import { engineOfObjects, findEngine, type Engine } from '../engines/index.js';
import { databaseOfObject, isDatabaseDump, postgres } from '../engines/postgres.js';
import { BackupArchived, ConfigError, errorText, RestoreFailed } from '../errors.js';
import { backupAccess } from '../storage/archive.js';
import { describeS3Error } from '../storage/s3-errors.js';
import {
  ADMIN_DB_NAME,
  ADMIN_DB_SEGMENT,
  legacySegment,
  ownerFolder,
  ownerSegment,
  parseOwnerSegment,
  prefixFolder,
  s3Url,
  segmentNameIs,
  type BackupOwner,
} from '../storage/layout.js';
import { byNewestStart, listBackupFolders, listSegments, type BackupFolder } from '../storage/listing.js';
import { missingFromFolder, readManifest, type Manifest } from '../storage/manifest.js';
import type { ObjectRef } from '../pipeline/restore-step.js';
import { archivedId, archivedMessage, type ArchivedBackup } from './thaw.js';

/** Whose backups: a container by name (`id` when the name stands for several), or the admin DB's own. */
export type OwnerRequest = { adminDb: true } | { name: string; id?: number };

/** The owner a request resolved to. */
export interface ResolvedOwner {
  /** The name in backups rows, mails and action_log (the container's Name, or `_admin-db`). */
  name: string;
  owner: BackupOwner;
  cId: number | null;
  /** The containers row, when the admin DB was read. */
  container?: NamedContainer;
  /** Where its folders are: the current segment, and the legacy one (folders written before the current layout). */
  segment: string;
  legacySegment: string;
}

/** An owner known by id (a backup just made, a container row): where its folders are. */
export function resolvedOwner(owner: BackupOwner, container?: NamedContainer): ResolvedOwner {
  if (owner.kind === 'admin-db') return { name: ADMIN_DB_NAME, owner, cId: null, segment: ADMIN_DB_SEGMENT, legacySegment: ADMIN_DB_SEGMENT };
  return {
    name: owner.name,
    owner,
    cId: owner.id,
    ...(container ? { container } : {}),
    segment: ownerSegment(owner),
    legacySegment: legacySegment(owner.name),
  };
}

export interface BackupSource extends ResolvedOwner {
  engine: Engine;
  folder: BackupFolder;
  /** The backups rows' backup_id of this backup (the manifest's or the log's; a legacy folder's own name). */
  backupId: string;
  logged?: LoggedBackup;
  /** Why this backup: for the operator and the action_log row. */
  reason: string;
  /** What the backup wrote (backups made before manifests existed have none). */
  manifest?: Manifest;
  /** It should have a manifest: written in the current layout, or after an older backup of the owner had one. */
  manifestExpected: boolean;
}

/** `2026-12-01_02:00:07 (folder 20261201T020007.123Z-9f3a1c)`: how messages name a backup. */
export function backupLabel(source: Pick<BackupSource, 'backupId' | 'folder'>): string {
  return source.backupId === source.folder.folderId ? source.backupId : `${source.backupId} (folder ${source.folder.folderId})`;
}

/** The database an object of this backup holds, by its real name: the manifest's, else the object's name. */
export function databaseOf(source: Pick<BackupSource, 'folder' | 'manifest' | 'legacySegment'>, objectName: string): string {
  const recorded = source.manifest?.objects.find((o) => o.name === objectName)?.database;
  if (recorded !== undefined) return recorded;
  if (source.folder.legacy) return databaseOfObject(objectName, source.folder.objects.some((o) => o.name.startsWith(`${source.legacySegment}_`)) ? source.legacySegment : undefined);
  return databaseOfObject(objectName);
}

/** One object of the backup, with the digest its manifest recorded. */
export function objectRef(source: Pick<BackupSource, 'folder' | 'manifest'>, objectName: string): ObjectRef {
  const sha256 = source.manifest?.objects.find((o) => o.name === objectName)?.sha256;
  return { key: source.folder.folder + objectName, ...(sha256 ? { sha256 } : {}) };
}

/**
 * The manifest of the backup in `folder`, read and held against the folder's objects and against whose backup it
 * should be; undefined when the folder has none (a backup made before manifests). Throws RestoreFailed when it is
 * unreadable or the backup is not whole, ConfigError (exit 2) when it is another owner's backup.
 */
export async function loadManifest(
  client: S3Client,
  bucket: string,
  owner: Pick<ResolvedOwner, 'name' | 'owner'>,
  folder: BackupFolder,
  signal?: AbortSignal,
): Promise<Manifest | undefined> {
  if (!folder.manifest) return undefined;
  const where = s3Url(bucket, folder.folder);
  const manifest = await readManifest(client, bucket, folder.folder, signal).catch((err: unknown) => {
    throw new RestoreFailed(`backup ${where} of '${owner.name}': ${errorText(err)}`);
  });
  if (!manifest) return undefined;
  const other = ownerMismatch(manifest, owner);
  if (other) throw new ConfigError(`refusing backup ${where}: its manifest says it is a backup of ${other}, not of ${describeOwner(owner)}`);
  const problems = missingFromFolder(manifest, folder);
  if (problems.length) throw new RestoreFailed(`backup ${where} of '${owner.name}' is not whole: ${problems.join('; ')}`);
  return manifest;
}

function describeOwner(o: Pick<ResolvedOwner, 'name' | 'owner'>): string {
  return o.owner.kind === 'admin-db' ? 'the admin database' : `container '${o.owner.name}' (id ${o.owner.id})`;
}

/** Whose backup a manifest says it is, when that is not the owner asked for; undefined when it is. Pure. */
export function ownerMismatch(manifest: Manifest, asked: Pick<ResolvedOwner, 'name' | 'owner'>): string | undefined {
  const m = manifest.owner;
  if (!m) {
    // Format 1 recorded the name only.
    return manifest.name === asked.name ? undefined : `'${manifest.name}'`;
  }
  if (m.kind === 'admin-db') return asked.owner.kind === 'admin-db' ? undefined : `the admin database (${m.database})`;
  if (asked.owner.kind === 'container' && m.id === asked.owner.id) return undefined;
  return `container '${m.name}' (id ${m.id})`;
}

/**
 * Whose backups a request means. A name that stands for several containers (row names and Info.Names repeat) is
 * refused, listing them, unless `id` says which; only those that are running or have backups count. Without the
 * admin DB, S3 alone decides: the container segments under the prefix that carry the name.
 */
export async function resolveOwner(deps: { client: S3Client; config: Config; db: AdminDb | undefined }, request: OwnerRequest): Promise<ResolvedOwner> {
  if ('adminDb' in request) return resolvedOwner({ kind: 'admin-db' });
  const { name, id } = request;
  const { config, client } = deps;
  const ofContainer = (c: { id: number; name: string }, container?: NamedContainer): ResolvedOwner =>
    resolvedOwner({ kind: 'container', id: c.id, name: c.name }, container);
  if (deps.db) {
    if (id !== undefined) {
      const container = await containerById(deps.db, id);
      if (!container || (container.name !== name && container.rowName !== name)) {
        throw new ConfigError(`no container with id ${id} is called '${name}'${container ? ` (id ${id} is '${container.name}')` : ''}`);
      }
      return ofContainer(container, container);
    }
    const named = await containersNamed(deps.db, name);
    const segments = named.length > 1 ? await listSegments(client, config.s3.bucket, config.s3.prefix) : [];
    const withBackups = named.filter((c) => c.active || segments.includes(ownerSegment({ kind: 'container', id: c.id, name: c.name })));
    const candidates = withBackups.length ? withBackups : named;
    if (candidates.length > 1) {
      const list = candidates.map((c) => `id ${c.id} ('${c.name}'${c.rowName !== c.name ? `, row name '${c.rowName}'` : ''}, ${c.active ? 'running' : 'not running'})`);
      throw new ConfigError(`'${name}' names ${candidates.length} containers: ${list.join('; ')}; say which with --id`);
    }
    const only = candidates[0];
    if (only) return ofContainer(only, only);
  }
  // No admin DB, or no containers row of that name (another installation's bucket): what S3 holds.
  const segments = await listSegments(client, config.s3.bucket, config.s3.prefix);
  const ids = segments.filter((s) => segmentNameIs(s, name)).flatMap((s) => {
    const parsed = parseOwnerSegment(s);
    return parsed?.kind === 'container' && (id === undefined || parsed.id === id) ? [parsed.id] : [];
  });
  if (ids.length > 1) throw new ConfigError(`'${name}' names ${ids.length} containers in S3 (ids ${ids.join(', ')}); say which with --id`);
  const found = ids[0] ?? id;
  if (found !== undefined) return ofContainer({ id: found, name });
  // Without the admin DB, a container whose backups are all in the legacy layout (no id to go by).
  if (!deps.db && segments.includes(legacySegment(name))) return { ...ofContainer({ id: -1, name }), cId: null, segment: legacySegment(name) };
  const where = s3Url(config.s3.bucket, prefixFolder(config.s3.prefix));
  const hint = name === ADMIN_DB_NAME ? " (the admin database's own backups: --admin-db)" : '';
  throw new ConfigError(
    deps.db
      ? `no container named '${name}' in the admin database, and no backups of that name in ${where}${hint}`
      : `no backups of a container named '${name}' in ${where}${hint}`,
  );
}

/** Does the log row point into this folder (the folder itself, or an object in it)? */
const logPointsAt = (bucket: string, folder: BackupFolder) => (l: LoggedBackup) => l.url.startsWith(s3Url(bucket, folder.folder));

/**
 * The owner's backup folders, newest first. Current-layout folders are the owner's by their segment (the manifest
 * says so again when read). Legacy folders were shared by every name that cleaned to one segment, so one is taken as
 * this owner's only when the backups log has this owner's row pointing at it, or (admin DB unreachable) when its
 * objects have the shape this owner's backups had: the admin DB's were `{db}.dump` alone, a container's carried the
 * segment. Its manifest, where it has one, is held against the name when read.
 */
export async function ownerFolders(deps: { client: S3Client; config: Config }, owner: ResolvedOwner, log: readonly LoggedBackup[] | undefined): Promise<BackupFolder[]> {
  const { client, config } = deps;
  const { bucket, prefix } = config.s3;
  const current = owner.segment === owner.legacySegment ? [] : (await listBackupFolders(client, bucket, prefix, owner.segment)).filter((f) => !f.legacy);
  const legacyListed = await listBackupFolders(client, bucket, prefix, owner.legacySegment);
  const adminShape = (f: BackupFolder) => f.objects.length > 0 && f.objects.every((o) => isDatabaseDump(o.name) && !o.name.startsWith(`${ADMIN_DB_SEGMENT}_`));
  const legacy = legacyListed.filter((f) => {
    if (owner.owner.kind === 'admin-db' && !f.legacy) return true; // the admin DB's segment is the same in both layouts
    if (!f.legacy) return false;
    if (owner.owner.kind === 'admin-db' && !adminShape(f)) return false;
    if (log) return log.some(logPointsAt(bucket, f));
    return owner.owner.kind === 'admin-db' || !adminShape(f);
  });
  // A legacy folder started when its start row says (its objects' LastModified is only when each was finished).
  const dated = legacy.map((f) => {
    const start = f.legacy ? loggedFor(bucket, f, log)?.start : undefined;
    return start ? { ...f, startedAt: start } : f;
  });
  return [...current, ...dated].sort(byNewestStart);
}

/** The logged backup written into this folder, if the log has one. */
export function loggedFor(bucket: string, folder: BackupFolder, log: readonly LoggedBackup[] | undefined): LoggedBackup | undefined {
  return log?.find(logPointsAt(bucket, folder));
}

/**
 * `--backup-id ID` (a folder id, or a backups row's backup_id) → that folder; `latest` (or none) → the newest folder,
 * by the UTC moment it started, with a successful 'end' row in the backups log; without one, the newest folder with a
 * manifest (a complete backup), else the newest folder. Pure.
 */
export function chooseBackup(
  bucket: string,
  folders: readonly BackupFolder[],
  log: readonly LoggedBackup[] | undefined,
  wanted: string | undefined,
): { folder: BackupFolder; logged?: LoggedBackup; reason: string } {
  const loggedOf = (f: BackupFolder) => loggedFor(bucket, f, log);
  if (wanted !== undefined && wanted !== 'latest') {
    const matches = folders.filter((f) => f.folderId === wanted || loggedOf(f)?.backupId === wanted);
    if (matches.length > 1) {
      throw new ConfigError(`backup id ${wanted} names ${matches.length} backups (folders ${matches.map((f) => f.folderId).join(', ')}): give the folder id`);
    }
    const folder = matches[0];
    if (!folder) {
      const newest = folders.slice(0, 5).map((f) => loggedOf(f)?.backupId ?? f.folderId);
      throw new ConfigError(`no backup ${wanted} in S3 (newest: ${newest.join(', ') || 'none'}; see backup-all list)`);
    }
    const logged = loggedOf(folder);
    const note = !logged
      ? 'it has no rows in the backups log'
      : logged.end === undefined
        ? 'the backups log has no end row for it: it may be incomplete'
        : logged.ok
          ? 'the backups log says it succeeded'
          : `the backups log says it FAILED: ${logged.errMsg.split('\n')[0]}`;
    return { folder, ...(logged ? { logged } : {}), reason: `--backup-id ${wanted} (${note})` };
  }
  for (const folder of folders) {
    const logged = loggedOf(folder);
    if (logged?.ok && logged.end) return { folder, logged, reason: "latest: the newest backup with a successful 'end' row in the backups log" };
  }
  const why = log === undefined ? 'the backups log could not be read' : "no folder has a successful 'end' row in the backups log";
  const complete = folders.find((f) => f.manifest);
  const newest = complete ?? folders[0];
  if (!newest) throw new ConfigError('no backups found');
  const logged = loggedOf(newest);
  return {
    folder: newest,
    ...(logged ? { logged } : {}),
    reason: `latest: the newest ${complete ? 'complete backup (with a manifest)' : 'folder'} in S3 (${why})`,
  };
}

/**
 * Finds the owner's backups and picks one. `db` may be undefined (admin DB down): S3 alone decides. A backup S3 has
 * archived is refused (BackupArchived) before anything of it is read, its manifest included, unless `whenArchived`
 * makes it readable (restore and verify --thaw).
 */
export async function findBackup(
  deps: { client: S3Client; config: Config; db: AdminDb | undefined },
  request: OwnerRequest,
  wanted: string | undefined,
  options: { withoutManifest?: boolean; whenArchived?: (archived: ArchivedBackup) => Promise<void> } = {},
): Promise<BackupSource> {
  const { config } = deps;
  const owner = await resolveOwner(deps, request);
  const log = deps.db ? await backupLog(deps.db, owner.owner.kind === 'admin-db' ? { adminDb: true, name: owner.name } : { cId: owner.cId ?? -1, name: owner.name }) : undefined;
  const folders = await ownerFolders(deps, owner, log);
  if (folders.length === 0) {
    throw new ConfigError(`no backups of ${describeOwner(owner)} in ${s3Url(config.s3.bucket, ownerFolder(config.s3.prefix, owner.segment))}`);
  }
  const chosen = chooseBackup(config.s3.bucket, folders, log, wanted);
  const label = backupLabel({ backupId: chosen.logged?.backupId ?? chosen.folder.folderId, folder: chosen.folder });
  const access = await backupAccess(deps.client, config.s3.bucket, chosen.folder).catch((err: unknown) => {
    throw new RestoreFailed(`cannot tell whether backup ${label} of '${owner.name}' can be read: ${describeS3Error(err)}`);
  });
  if (!access.readable) {
    const archived: ArchivedBackup = { name: owner.name, label, folder: chosen.folder, access };
    if (!options.whenArchived) throw new BackupArchived(archivedMessage(archived), archivedId(archived));
    await options.whenArchived(archived);
  }
  const source = await sourceOf(deps, owner, chosen, undefined, manifestExpected(chosen.folder, folders));
  if (source.manifestExpected && !source.manifest && !options.withoutManifest) {
    throw new RestoreFailed(
      `backup ${backupLabel(source)} of '${source.name}' has no manifest.json although it was made after manifests existed: it is ` +
        'incomplete, or its manifest was deleted; it is refused without --force (which restores it without the size, digest and identity checks)',
    );
  }
  return source;
}

/** A backup should have a manifest when written in the current layout, or after an older one of its owner had one. */
export function manifestExpected(folder: BackupFolder, folders: readonly BackupFolder[]): boolean {
  if (!folder.legacy) return true;
  const started = folder.startedAt?.getTime() ?? Infinity;
  return folders.some((f) => f !== folder && f.manifest && (f.startedAt?.getTime() ?? Infinity) < started);
}

/** A chosen folder → the source restore and verify read: its manifest loaded and checked, its engine known. */
export async function sourceOf(
  deps: { client: S3Client; config: Config },
  owner: ResolvedOwner,
  chosen: { folder: BackupFolder; logged?: LoggedBackup; reason: string },
  signal?: AbortSignal,
  expectManifest = !chosen.folder.legacy,
): Promise<BackupSource> {
  const names = chosen.folder.objects.map((o) => o.name);
  const manifest = await loadManifest(deps.client, deps.config.s3.bucket, owner, chosen.folder, signal);
  const engine =
    owner.owner.kind === 'admin-db'
      ? postgres
      : (manifest?.owner?.kind === 'container' && findEngine(manifest.owner.engine)) || (owner.container && findEngine(owner.container.engine)) || engineOfObjects(names);
  if (!engine) {
    throw new ConfigError(`cannot tell the engine of backup ${s3Url(deps.config.s3.bucket, chosen.folder.folder)} of '${owner.name}' (objects: ${names.join(', ')})`);
  }
  const backupId = manifest?.backupId ?? chosen.logged?.backupId ?? chosen.folder.folderId;
  return { ...owner, engine, ...chosen, backupId, ...(manifest ? { manifest } : {}), manifestExpected: expectManifest };
}
