// What S3 holds of one container: its backup folders `{prefix}/{segment}/{backup_id}/` and their objects.
import { paginateListObjectsV2, type _Object, type S3Client } from '@aws-sdk/client-s3';
import { MANIFEST_NAME } from './manifest.js';
import { backupFolder } from './s3.js';

export interface BackupObject {
  /** The name under the backup's folder, e.g. `alpha_shop.dump`. */
  name: string;
  key: string;
  bytes: number;
  lastModified?: Date;
}

export interface BackupFolder {
  backupId: string;
  /** The folder's key prefix, ending in '/'. */
  folder: string;
  /** The backup's data objects (the manifest is not one of them). */
  objects: BackupObject[];
  bytes: number;
  /** The backup's manifest.json, when it has one (see manifest.ts). */
  manifest?: BackupObject;
}

/** `{prefix}/{segment}/`: where every backup of one container lives. */
export function containerFolder(prefix: string, segment: string): string {
  return backupFolder(prefix, segment, '').replace(/\/+$/, '/');
}

/** Listed objects under a container's folder → its backups, newest first (backup_id sorts by time). Pure. */
export function groupBackupObjects(
  containerPrefix: string,
  objects: readonly { Key?: string | undefined; Size?: number | undefined; LastModified?: Date | undefined }[],
): BackupFolder[] {
  const folders = new Map<string, BackupFolder>();
  for (const o of objects) {
    if (!o.Key?.startsWith(containerPrefix)) continue;
    const rest = o.Key.slice(containerPrefix.length);
    const slash = rest.indexOf('/');
    // Objects directly in the container's folder are not backups.
    if (slash <= 0 || slash === rest.length - 1) continue;
    const backupId = rest.slice(0, slash);
    const folder = folders.get(backupId) ?? { backupId, folder: `${containerPrefix}${backupId}/`, objects: [], bytes: 0 };
    const bytes = o.Size ?? 0;
    const object = { name: rest.slice(slash + 1), key: o.Key, bytes, ...(o.LastModified ? { lastModified: o.LastModified } : {}) };
    if (object.name === MANIFEST_NAME) folder.manifest = object;
    else {
      folder.objects.push(object);
      folder.bytes += bytes;
    }
    folders.set(backupId, folder);
  }
  for (const f of folders.values()) f.objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...folders.values()].sort((a, b) => (a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0));
}

/** Every backup of one container in the bucket, newest first. */
export async function listBackupFolders(client: S3Client, bucket: string, prefix: string, segment: string): Promise<BackupFolder[]> {
  const containerPrefix = containerFolder(prefix, segment);
  const objects: _Object[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: containerPrefix })) {
    objects.push(...(page.Contents ?? []));
  }
  return groupBackupObjects(containerPrefix, objects);
}
