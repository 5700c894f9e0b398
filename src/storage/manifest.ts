// The backup's manifest: one small JSON object, `manifest.json`, written last into the backup's folder. It says whose
// backup this is (the container's id, name, engine, host and port, or the admin DB), lists every object with its
// size and SHA-256 (computed while streaming: a multipart object's ETag is no digest), the database each object
// holds, and the rows per table the backup counted. Restore checks the identity and the digests; verify compares the
// counts. Format 1 (before identities) is still read; backups made before manifests existed have none.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { RowCounts } from '../counts/types.js';
import type { BackupFolder } from './listing.js';
import { MANIFEST_NAME } from './layout.js';
import { createObject, noOverwrite, sseMismatch, sseRequest, type S3Settings } from './s3.js';
import { errorText } from '../errors.js';

const FORMAT_1 = 'mydb-backup manifest 1';
const FORMAT = 'mydb-backup manifest 2';

const rowCounts = z.record(z.string(), z.record(z.string(), z.number().int().nonnegative()));

/** Whose backup: the container as the admin DB knew it when the backup started, or the admin DB itself. */
const ownerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('container'), id: z.number().int(), name: z.string(), engine: z.string(), host: z.string(), port: z.number().int() }),
  z.object({ kind: z.literal('admin-db'), database: z.string(), host: z.string(), port: z.number().int() }),
]);

const objectSchema = z.object({
  name: z.string(),
  /** The database this object holds, by its real name (PostgreSQL's per-database dumps and the admin DB's). */
  database: z.string().optional(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Rows per table per database in this object. */
  rows: rowCounts.optional(),
  /** Why the rows were not counted (the backup itself is fine). */
  rowsError: z.string().optional(),
});

const manifestSchema = z.object({
  format: z.union([z.literal(FORMAT), z.literal(FORMAT_1)]),
  /** The name in the backups rows (the container's Name, or `_admin-db`). */
  name: z.string(),
  /** The backups rows' backup_id (local time). */
  backupId: z.string(),
  /** The folder the backup was written to (its folder id). Format 2. */
  folder: z.string().optional(),
  owner: ownerSchema.optional(),
  backupType: z.string(),
  engine: z.string(),
  /** UTC, ISO 8601: what "latest" is decided by. */
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime(),
  objects: z.array(objectSchema),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestObject = Manifest['objects'][number];

export type ManifestOwner = z.infer<typeof ownerSchema>;

export function newManifest(m: Omit<Manifest, 'format' | 'folder' | 'owner'> & { folder: string; owner: ManifestOwner }): Manifest {
  return { format: FORMAT, ...m };
}

/**
 * Writes the manifest with the backups' server-side encryption, and checks S3's answer says so (no HeadObject: a
 * small PutObject is whole or fails, and its body's CRC32 is checked by S3 unless checksums are off).
 */
export async function putManifest(client: S3Client, s3: S3Settings, key: string, manifest: Manifest): Promise<number> {
  const body = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
  const put = new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: 'application/json', ...sseRequest(s3.sse), ...noOverwrite(s3) });
  const sent = { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  const out = await createObject(client, s3.bucket, key, () => client.send(put), sent);
  const wrong = sseMismatch(out, s3.sse);
  if (wrong) throw new ManifestStoredWrongly(`S3 stored it with the wrong encryption: ${wrong}`);
  return body.length;
}

/** The manifest was written, but not as asked: the caller removes it with the backup's other objects. */
export class ManifestStoredWrongly extends Error {
  override name = 'ManifestStoredWrongly';
}

/** The manifest of the backup in `folder` (ending in '/'); undefined when it has none; throws when it is unreadable. */
export async function readManifest(client: S3Client, bucket: string, folder: string, signal?: AbortSignal): Promise<Manifest | undefined> {
  const key = folder + MANIFEST_NAME;
  let text: string;
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
    text = (await out.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`the manifest s3://${bucket}/${key} is not JSON: ${errorText(err)}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the manifest s3://${bucket}/${key} is invalid: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}

/** Merges per-object counts into one map (database → table → rows). */
export function manifestRows(objects: readonly ManifestObject[]): RowCounts | undefined {
  const counted = objects.filter((o) => o.rows);
  if (!counted.length) return undefined;
  const all: RowCounts = {};
  for (const o of counted) for (const [db, tables] of Object.entries(o.rows ?? {})) Object.assign((all[db] ??= {}), tables);
  return all;
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
