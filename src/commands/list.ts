// `backup-all list NAME | --admin-db`: a container's backups in S3, joined with the backups log, newest first.
import { backupLog, type LoggedBackup } from '../admin-db/restore-queries.js';
import type { Config } from '../config.js';
import { engineOfObjects, findEngine } from '../engines/index.js';
import { postgres } from '../engines/postgres.js';
import { optionalAdminDb } from '../restore/action-log.js';
import { loggedFor, ownerFolders, resolveOwner, type OwnerRequest } from '../restore/source.js';
import { backupAccess, backupStorageClass, describeTiers, isArchiveClass, type BackupAccess } from '../storage/archive.js';
import { ownerFolder, s3Url } from '../storage/layout.js';
import type { BackupFolder } from '../storage/listing.js';
import { createS3Client } from '../storage/s3.js';
import { firstLine, formatBytes } from '../util/format.js';
import { orCannotStart, type CommandIo } from './context.js';

export interface ListedBackup {
  /** The backups rows' backup_id (local time), when the log or the folder tells it. */
  backupId: string;
  /** The folder in S3 (its folder id), when the backup is there. */
  folderId?: string;
  inS3: boolean;
  bytes: number;
  /** Whether the backup has its manifest.json (identity, digests and row counts). */
  manifest: boolean;
  /** Written before the current key layout. */
  legacy: boolean;
  objects: { name: string; key: string; bytes: number; lastModified?: string; storageClass?: string }[];
  /** Its archive class when S3 has archived any object of it, else the class holding most of its bytes. */
  storageClass?: string;
  /** When S3 has archived it: can it be read now (thawed), is a copy being thawed, or does it need --thaw. */
  archive?: { state: 'archived' | 'thawing' | 'thawed'; objects: number; until?: string };
  /** From the backups log: ok, failed, started (no end row), or unlogged (S3 only). */
  status: 'ok' | 'failed' | 'started' | 'unlogged';
  backupType?: string;
  /** UTC, when the backup started: the log's start row, else what the folder tells. */
  start?: string;
  end?: string;
  errMsg?: string;
}

/**
 * S3 folders and log entries merged (a log entry belongs to the folder its url points into), newest first, with what
 * `access` tells of the archived ones (by folder id). Pure.
 */
export function mergeBackups(
  bucket: string,
  folders: readonly BackupFolder[],
  log: readonly LoggedBackup[],
  access: ReadonlyMap<string, BackupAccess> = new Map(),
): ListedBackup[] {
  const used = new Set<LoggedBackup>();
  const entries: { folder?: BackupFolder; logged?: LoggedBackup }[] = folders.map((folder) => {
    const logged = loggedFor(bucket, folder, log);
    if (logged) used.add(logged);
    return { folder, ...(logged ? { logged } : {}) };
  });
  for (const logged of log) if (!used.has(logged)) entries.push({ logged });
  const startOf = (e: (typeof entries)[number]) => (e.logged?.start ?? e.folder?.startedAt)?.getTime() ?? -Infinity;
  return entries
    .sort((a, b) => startOf(b) - startOf(a))
    .map(({ folder, logged }) => {
      const status: ListedBackup['status'] = !logged ? 'unlogged' : logged.end === undefined ? 'started' : logged.ok ? 'ok' : 'failed';
      const start = logged?.start ?? folder?.startedAt;
      const storageClass = folder ? backupStorageClass([...folder.objects, ...(folder.manifest ? [folder.manifest] : [])]) : undefined;
      const archive = folder ? archiveState(access.get(folder.folderId)) : undefined;
      return {
        backupId: logged?.backupId ?? folder?.folderId ?? '',
        ...(folder ? { folderId: folder.folderId } : {}),
        inS3: folder !== undefined,
        bytes: folder?.bytes ?? 0,
        manifest: folder?.manifest !== undefined,
        legacy: folder?.legacy ?? false,
        objects: (folder?.objects ?? []).map((o) => ({
          name: o.name,
          key: o.key,
          bytes: o.bytes,
          ...(o.lastModified ? { lastModified: o.lastModified.toISOString() } : {}),
          ...(o.storageClass ? { storageClass: o.storageClass } : {}),
        })),
        ...(storageClass ? { storageClass } : {}),
        ...(archive ? { archive } : {}),
        status,
        ...(logged?.backupType ? { backupType: logged.backupType } : {}),
        ...(start ? { start: start.toISOString() } : {}),
        ...(logged?.end ? { end: logged.end.toISOString() } : {}),
        ...(logged?.errMsg ? { errMsg: logged.errMsg } : {}),
      };
    });
}

function archiveState(access: BackupAccess | undefined): ListedBackup['archive'] {
  if (!access?.archiveClass) return undefined;
  const archived = access.blocked.filter((o) => o.state.state === 'archived').length;
  const thawing = access.blocked.length - archived;
  const inClass = access.objects.filter((o) => isArchiveClass(o.storageClass)).length;
  if (archived) return { state: 'archived', objects: archived };
  if (thawing) return { state: 'thawing', objects: thawing };
  return { state: 'thawed', objects: inClass, ...(access.thawedUntil ? { until: access.thawedUntil.toISOString() } : {}) };
}

/** The line `list` prints under an archived backup. Pure. */
export function archiveNote(b: Pick<ListedBackup, 'archive' | 'storageClass'>): string | undefined {
  const a = b.archive;
  if (!a) return undefined;
  const cls = b.storageClass ?? 'an archive storage class';
  const objects = `${a.objects} object${a.objects === 1 ? '' : 's'}`;
  switch (a.state) {
    case 'archived':
      return `archived in ${cls} (${objects}): needs --thaw to be restored or verified (S3 thaws a copy: ${isArchiveClass(cls) ? describeTiers(cls) : 'hours'})`;
    case 'thawing':
      return `archived in ${cls}: S3 is thawing a copy of ${objects}; restore or verify with --thaw waits for it`;
    case 'thawed':
      return `archived in ${cls}, thawed: readable${a.until ? ` until ${utc(a.until)}` : ''}`;
  }
}

const STATUS_TEXT: Record<ListedBackup['status'], string> = { ok: 'OK', failed: 'FAILED', started: 'NO END', unlogged: 'NOT LOGGED' };
const utc = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

export async function runList(config: Config, opts: { owner: OwnerRequest; json: boolean }, io: Omit<CommandIo, 'signal'>): Promise<number> {
  const client = createS3Client(config.s3);
  const db = await optionalAdminDb(config, io, false);
  try {
    const owner = await orCannotStart(config, () => resolveOwner({ client, config, db }, opts.owner));
    const location = s3Url(config.s3.bucket, ownerFolder(config.s3.prefix, owner.segment));
    const log = db ? await backupLog(db, owner.owner.kind === 'admin-db' ? { adminDb: true, name: owner.name } : { cId: owner.cId ?? -1, name: owner.name }) : undefined;
    const folders = await orCannotStart(config, () => ownerFolders({ client, config }, owner, log));
    const engine =
      owner.owner.kind === 'admin-db' ? postgres.name : (owner.container && findEngine(owner.container.engine)?.name) ?? engineOfObjects(folders[0]?.objects.map((o) => o.name) ?? [])?.name;
    // Only backups with objects in an archive class cost a request (HeadObject each): whether S3 has thawed them.
    const access = new Map<string, BackupAccess>();
    for (const f of folders) {
      if (![...f.objects, f.manifest].some((o) => isArchiveClass(o?.storageClass))) continue;
      access.set(f.folderId, await orCannotStart(config, () => backupAccess(client, config.s3.bucket, f)));
    }
    const backups = mergeBackups(config.s3.bucket, folders, log ?? [], access);
    if (opts.json) {
      io.print(JSON.stringify({ name: owner.name, id: owner.cId, engine: engine ?? null, location, backupsLogRead: db !== undefined, backups }));
      return backups.length ? 0 : 1;
    }
    const who = owner.cId !== null ? `${owner.name} (id ${owner.cId}${engine ? `, ${engine}` : ''})` : `${owner.name}${engine ? ` (${engine})` : ''}`;
    if (backups.length === 0) {
      io.print(`No backups of ${who}: nothing in ${location}${db ? ' and no rows in the backups log' : ''}.`);
      return 1;
    }
    io.print(`Backups of ${who} in ${location}, newest first${db ? '' : ' (admin DB unreachable: S3 only)'}:`);
    // Without the log a backup is known by its folder id, longer than a backup_id.
    const idWidth = Math.max(22, ...backups.map((b) => b.backupId.length + 2));
    const storageWidth = Math.max('STORAGE'.length, ...backups.map((b) => (b.storageClass ?? '-').length)) + 2;
    // Unread, the log says nothing about any backup: not that it has no rows.
    const statusText = (b: ListedBackup) => (db ? STATUS_TEXT[b.status] : 'LOG UNREAD');
    io.print(
      `${'BACKUP ID'.padEnd(idWidth)}${'TYPE'.padEnd(8)}${'STATUS'.padEnd(12)}${'SIZE'.padStart(10)}  ${'STORAGE'.padEnd(storageWidth)}` +
        `${'STARTED (UTC)'.padEnd(22)}${'ENDED (UTC)'.padEnd(22)}FOLDER`,
    );
    for (const b of backups) {
      io.print(
        `${b.backupId.padEnd(idWidth)}${(b.backupType ?? '-').padEnd(8)}${statusText(b).padEnd(12)}${(b.inS3 ? formatBytes(b.bytes) : 'not in S3').padStart(10)}  ` +
          `${(b.storageClass ?? '-').padEnd(storageWidth)}${utc(b.start).padEnd(22)}${utc(b.end).padEnd(22)}${b.folderId ?? '-'}${b.legacy ? ' (legacy layout)' : ''}`,
      );
      const archive = archiveNote(b);
      if (archive) io.print(`    ${archive}`);
      if (b.errMsg) io.print(`    ${firstLine(b.errMsg)}`);
      for (const o of b.objects) io.print(`    ${o.name.padEnd(40)} ${formatBytes(o.bytes).padStart(10)}${o.storageClass ? `  ${o.storageClass}` : ''}`);
      if (b.inS3) io.print(`    ${b.manifest ? 'manifest.json: identity, SHA-256 per object, rows per table' : '(no manifest)'}`);
    }
    return 0;
  } finally {
    client.destroy();
    await db?.end().catch(() => {});
  }
}
