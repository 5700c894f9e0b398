// Objects in an archive storage class: S3 Glacier Flexible Retrieval (GLACIER) and Glacier Deep Archive (DEEP_ARCHIVE)
// answer GetObject with InvalidObjectState until S3 has restored a temporary copy of them (RestoreObject; here
// "thawing", so as not to be confused with restoring a database). The one place that says whether an object is
// readable now, and that asks S3 to thaw it. Every other class (GLACIER_IR included) is readable at once.
import { HeadObjectCommand, RestoreObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BackupFolder, BackupObject } from './listing.js';
import { s3ErrorOf } from './s3-errors.js';

export const ARCHIVE_CLASSES = ['GLACIER', 'DEEP_ARCHIVE'] as const;
export type ArchiveClass = (typeof ARCHIVE_CLASSES)[number];

/** RestoreObject's retrieval tiers: faster costs more. */
export const THAW_TIERS = ['Expedited', 'Standard', 'Bulk'] as const;
export type ThawTier = (typeof THAW_TIERS)[number];

export function isArchiveClass(storageClass: string | undefined): storageClass is ArchiveClass {
  return (ARCHIVE_CLASSES as readonly string[]).includes(storageClass ?? '');
}

/** Where an object stands: readable (any other class), archived (no copy asked for), thawing, or thawed until a date. */
export type ObjectState = { state: 'readable' } | { state: 'archived' } | { state: 'thawing' } | { state: 'thawed'; until?: Date };

/**
 * What HeadObject's Restore header (x-amz-restore) says about an archived object: absent, no copy was asked for;
 * `ongoing-request="true"`, S3 is making one; `ongoing-request="false", expiry-date="Fri, 23 Dec 2012 00:00:00 GMT"`,
 * the copy is readable until then. Pure.
 */
export function parseRestoreHeader(header: string | undefined): ObjectState {
  if (!header) return { state: 'archived' };
  if (/ongoing-request\s*=\s*"true"/i.test(header)) return { state: 'thawing' };
  const expiry = /expiry-date\s*=\s*"([^"]+)"/i.exec(header)?.[1];
  const until = expiry ? new Date(expiry) : undefined;
  return until && !Number.isNaN(until.getTime()) ? { state: 'thawed', until } : { state: 'thawed' };
}

/** An object of a backup, with where it stands. */
export interface ObjectAccess {
  name: string;
  key: string;
  storageClass?: string;
  state: ObjectState;
}

/** Can a backup be read now, and if not, why: its objects that are archived or still thawing. */
export interface BackupAccess {
  objects: ObjectAccess[];
  /** Objects that cannot be read now (archived, or thawing). */
  blocked: ObjectAccess[];
  readable: boolean;
  /** The slowest archive class among its objects (DEEP_ARCHIVE before GLACIER); undefined when none is archived. */
  archiveClass?: ArchiveClass;
  /** When the first of its thawed copies expires. */
  thawedUntil?: Date;
}

const HEAD_CONCURRENCY = 8;

/**
 * Where each object of the backup (its manifest included) stands. Objects in other classes are readable without a
 * request (the listing said their class); archive-class ones are asked with HeadObject, at most 8 at a time.
 */
export async function backupAccess(client: S3Client, bucket: string, folder: Pick<BackupFolder, 'objects' | 'manifest'>, signal?: AbortSignal): Promise<BackupAccess> {
  const all: BackupObject[] = [...folder.objects, ...(folder.manifest ? [folder.manifest] : [])];
  const objects: ObjectAccess[] = all.map((o) => ({ name: o.name, key: o.key, ...(o.storageClass ? { storageClass: o.storageClass } : {}), state: { state: 'readable' } }));
  const archived = objects.filter((o) => isArchiveClass(o.storageClass));
  for (let i = 0; i < archived.length; i += HEAD_CONCURRENCY) {
    await Promise.all(
      archived.slice(i, i + HEAD_CONCURRENCY).map(async (o) => {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: o.key }), signal ? { abortSignal: signal } : {});
        o.state = parseRestoreHeader(head.Restore);
      }),
    );
  }
  return summarizeAccess(objects);
}

/** The backup's access from its objects' states. Pure. */
export function summarizeAccess(objects: ObjectAccess[]): BackupAccess {
  const blocked = objects.filter((o) => o.state.state === 'archived' || o.state.state === 'thawing');
  const classes = objects.map((o) => o.storageClass).filter(isArchiveClass);
  const archiveClass = classes.includes('DEEP_ARCHIVE') ? 'DEEP_ARCHIVE' : classes[0];
  const expiries = objects.flatMap((o) => (o.state.state === 'thawed' && o.state.until ? [o.state.until.getTime()] : []));
  return {
    objects,
    blocked,
    readable: blocked.length === 0,
    ...(archiveClass ? { archiveClass } : {}),
    ...(expiries.length ? { thawedUntil: new Date(Math.min(...expiries)) } : {}),
  };
}

/** How long S3 typically takes to thaw an object of this class at this tier (AWS's published figures). */
export interface ThawTime {
  /** In words: `3–5 hours`, `within 12 hours`. */
  text: string;
  /** The longest it typically takes. */
  maxMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const THAW_TIMES: Record<ArchiveClass, Partial<Record<ThawTier, ThawTime>>> = {
  GLACIER: {
    Expedited: { text: '1–5 minutes', maxMs: 5 * MINUTE },
    Standard: { text: '3–5 hours', maxMs: 5 * HOUR },
    Bulk: { text: '5–12 hours', maxMs: 12 * HOUR },
  },
  // Deep Archive offers no Expedited retrieval.
  DEEP_ARCHIVE: {
    Standard: { text: 'within 12 hours', maxMs: 12 * HOUR },
    Bulk: { text: 'within 48 hours', maxMs: 48 * HOUR },
  },
};

/** Undefined when S3 does not offer the tier for the class (Expedited for DEEP_ARCHIVE). Pure. */
export function typicalThawTime(archiveClass: ArchiveClass, tier: ThawTier): ThawTime | undefined {
  return THAW_TIMES[archiveClass][tier];
}

/** The tiers S3 offers for the class, with their typical times: `Expedited 1–5 minutes, Standard 3–5 hours, …`. Pure. */
export function describeTiers(archiveClass: ArchiveClass): string {
  return THAW_TIERS.flatMap((t) => {
    const time = typicalThawTime(archiveClass, t);
    return time ? [`${t} ${time.text}`] : [];
  }).join(', ');
}

/**
 * Asks S3 for a temporary copy of an archived object, readable for `days` once made. 'requested': S3 accepted it
 * (or, for a copy that is already there, extended its life); 'in-progress': a thaw was already running.
 */
export async function requestThaw(client: S3Client, bucket: string, key: string, opts: { days: number; tier: ThawTier }): Promise<'requested' | 'in-progress'> {
  try {
    await client.send(new RestoreObjectCommand({ Bucket: bucket, Key: key, RestoreRequest: { Days: opts.days, GlacierJobParameters: { Tier: opts.tier } } }));
    return 'requested';
  } catch (err) {
    if (s3ErrorOf(err).code === 'RestoreAlreadyInProgress') return 'in-progress';
    throw err;
  }
}

/**
 * The storage class `list` shows for a backup: its archive class when any object is archived (that decides whether
 * it can be read), else the class holding most of its bytes; undefined when the store named none. Pure.
 */
export function backupStorageClass(objects: readonly Pick<BackupObject, 'bytes' | 'storageClass'>[]): string | undefined {
  const classes = objects.map((o) => o.storageClass).filter((c): c is string => c !== undefined);
  if (classes.includes('DEEP_ARCHIVE')) return 'DEEP_ARCHIVE';
  if (classes.includes('GLACIER')) return 'GLACIER';
  const bytes = new Map<string, number>();
  for (const o of objects) if (o.storageClass) bytes.set(o.storageClass, (bytes.get(o.storageClass) ?? 0) + o.bytes);
  return [...bytes].sort((a, b) => b[1] - a[1])[0]?.[0];
}
