// What S3 holds of one owner (a container, or the admin DB): its backup folders and their objects.
import { ListMultipartUploadsCommand, ListObjectsV2Command, paginateListObjectsV2, type _Object, type S3Client } from '@aws-sdk/client-s3';
import { folderStartedAt, isFolderId, isLegacyFolderId, MANIFEST_NAME, ownerFolder } from './layout.js';

export interface BackupObject {
  /** The name in the backup's folder, e.g. `shop.dump`. */
  name: string;
  key: string;
  bytes: number;
  lastModified?: Date;
  /** STANDARD, STANDARD_IA, GLACIER…, as the listing says (absent: the store did not say). */
  storageClass?: string;
}

export interface BackupFolder {
  /** The folder's name under the owner's segment: a folder id, or a legacy local-time backup_id. */
  folderId: string;
  /** The folder's key prefix, ending in '/'. */
  folder: string;
  /** Written before the current layout (named by the local-time backup_id). */
  legacy: boolean;
  /**
   * When the backup started, in UTC, as far as the listing tells: the folder id's moment (current layout), else the
   * oldest object's LastModified (legacy folders). The manifest's startedAt is the authority where it is read.
   */
  startedAt?: Date;
  /** The backup's data objects (the manifest is not one of them). */
  objects: BackupObject[];
  bytes: number;
  /** The backup's manifest.json, when it has one (see manifest.ts). */
  manifest?: BackupObject;
}

/** Newest first, by the UTC moment the backup started (never by the local-time string). */
export function byNewestStart(a: { startedAt?: Date; folderId: string }, b: { startedAt?: Date; folderId: string }): number {
  const ta = a.startedAt?.getTime() ?? -Infinity;
  const tb = b.startedAt?.getTime() ?? -Infinity;
  if (ta !== tb) return tb - ta;
  return a.folderId < b.folderId ? 1 : a.folderId > b.folderId ? -1 : 0;
}

/** Listed objects under an owner's folder (`{prefix}/{segment}/`) → its backups, newest first. Pure. */
export function groupBackupObjects(
  ownerPrefix: string,
  objects: readonly { Key?: string | undefined; Size?: number | undefined; LastModified?: Date | undefined; StorageClass?: string | undefined }[],
): BackupFolder[] {
  const folders = new Map<string, BackupFolder>();
  for (const o of objects) {
    if (!o.Key?.startsWith(ownerPrefix)) continue;
    const rest = o.Key.slice(ownerPrefix.length);
    const slash = rest.indexOf('/');
    // Objects directly in the owner's folder, or deeper than one level, are not backups.
    if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) continue;
    const folderId = rest.slice(0, slash);
    const legacy = isLegacyFolderId(folderId);
    if (!legacy && !isFolderId(folderId)) continue;
    const started = folderStartedAt(folderId);
    const folder = folders.get(folderId) ?? {
      folderId,
      folder: `${ownerPrefix}${folderId}/`,
      legacy,
      ...(started ? { startedAt: started } : {}),
      objects: [],
      bytes: 0,
    };
    const bytes = o.Size ?? 0;
    const object: BackupObject = {
      name: rest.slice(slash + 1),
      key: o.Key,
      bytes,
      ...(o.LastModified ? { lastModified: o.LastModified } : {}),
      ...(o.StorageClass ? { storageClass: o.StorageClass } : {}),
    };
    if (legacy && o.LastModified && (!folder.startedAt || o.LastModified < folder.startedAt)) folder.startedAt = o.LastModified;
    if (object.name === MANIFEST_NAME) folder.manifest = object;
    else {
      folder.objects.push(object);
      folder.bytes += bytes;
    }
    folders.set(folderId, folder);
  }
  for (const f of folders.values()) f.objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...folders.values()].sort(byNewestStart);
}

/** Every backup folder of one owner segment, newest first. */
export async function listBackupFolders(client: S3Client, bucket: string, prefix: string, segment: string): Promise<BackupFolder[]> {
  const ownerPrefix = ownerFolder(prefix, segment);
  const objects: _Object[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: ownerPrefix })) {
    objects.push(...(page.Contents ?? []));
  }
  return groupBackupObjects(ownerPrefix, objects);
}

/** The owner segments under the prefix (one listing level): how backups are found when the admin DB is gone. */
export async function listSegments(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const head = prefix ? `${prefix}/` : '';
  const segments: string[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: head, Delimiter: '/' })) {
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) segments.push(p.Prefix.slice(head.length, -1));
  }
  return segments;
}

/** Does nothing exist under this folder yet? */
export async function folderIsEmpty(client: S3Client, bucket: string, folder: string): Promise<boolean> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, MaxKeys: 1 }));
  return (out.KeyCount ?? out.Contents?.length ?? 0) === 0;
}

/** Every key of a backup folder: its objects and its manifest. */
export function folderKeys(folder: BackupFolder): string[] {
  return [...folder.objects.map((o) => o.key), ...(folder.manifest ? [folder.manifest.key] : [])];
}

/** One backup folder (its key, ending in '/'), as listed now; undefined when it holds nothing. */
export async function listFolder(client: S3Client, bucket: string, folder: string): Promise<BackupFolder | undefined> {
  const objects: _Object[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: folder })) objects.push(...(page.Contents ?? []));
  const parent = folder.slice(0, folder.slice(0, -1).lastIndexOf('/') + 1);
  return groupBackupObjects(parent, objects)[0];
}

/** A multipart upload nobody completed (yet). */
export interface OpenUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** The incomplete multipart uploads under the prefix. */
export async function listOpenUploads(client: S3Client, bucket: string, prefix: string): Promise<OpenUpload[]> {
  const uploads: OpenUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix ? `${prefix}/` : undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Key && u.UploadId) uploads.push({ key: u.Key, uploadId: u.UploadId, ...(u.Initiated ? { initiated: u.Initiated } : {}) });
    }
    if (!page.IsTruncated) return uploads;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}
