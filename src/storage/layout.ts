// The S3 layout: the one module that builds and parses the keys the tool writes and reads. Pure (no S3 calls).
//
//   {prefix}/{owner segment}/{folder id}/{object name}
//
// - owner segment: a container's is `{encodeName(name)}.{id}`: its name, readable when plain, and its id in the admin
//   DB's containers table, so two containers never share a folder (same name, names that differ only in characters
//   S3 keys avoid, a tenant called `_admin-db`). The admin DB's own backups live in `_admin-db`, which no container
//   segment can be (a container segment always ends in `.{id}`).
// - folder id: the UTC moment the backup started, to the millisecond, and 6 random hex digits
//   (`20261201T020007.123Z-9f3a1c`): unique whatever the clock does (same second, two hosts, DST, a step back), and
//   free of ':' (which S3 asks to avoid in keys). The backups rows keep their local `YYYY-MM-DD_HH:MM:SS` backup_id.
// - object names are the engines' (engines/*.ts); database names in them go through encodeName.
//
// Folders written before this layout ("legacy": `{legacySegment(name)}/{YYYY-MM-DD_HH:MM:SS}/`, objects prefixed by the
// segment) are still found and restored: see restore/source.ts for how such a folder is proven to be a container's.
import { createHash, randomBytes } from 'node:crypto';

export const MANIFEST_NAME = 'manifest.json';

/** Who a backup belongs to: a container (by its admin-DB id; the name as it was) or the admin DB itself. */
export type BackupOwner = { kind: 'container'; id: number; name: string } | { kind: 'admin-db' };

export const ADMIN_DB_SEGMENT = '_admin-db';

/** The name shown for the admin DB's own backups in rows, logs and mails. */
export const ADMIN_DB_NAME = ADMIN_DB_SEGMENT;

const KEPT = /[A-Za-z0-9_.-]/;
/** Encoded names longer than this are cut and end with a digest of the whole name instead (S3 keys ≤ 1024 bytes). */
const MAX_ENCODED = 200;
const DIGEST_MARK = '=H';

/**
 * A name (container, database) as one S3 key segment, one-to-one: letters, digits, '-', '_' and '.' stay as they are
 * (a leading '.' excepted), every other character becomes `=XX` per UTF-8 byte (`a b` → `a=20b`, `é` → `=C3=A9`).
 * No normalisation: `café` written with a combining accent is another name than with `é`, as in the databases.
 * A name whose encoding is longer than 200 characters keeps its first part and ends with `=H` and a SHA-256 digest of
 * the whole name: still one-to-one (as SHA-256 is), no longer reversible.
 */
export function encodeName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (KEPT.test(ch) && !(ch === '.' && out === '')) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= MAX_ENCODED) return out;
  const digest = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32);
  let head = out.slice(0, MAX_ENCODED - DIGEST_MARK.length - digest.length);
  // Never cut an `=XX` in half.
  const cut = head.lastIndexOf('=');
  if (cut >= 0 && cut > head.length - 3) head = head.slice(0, cut);
  return `${head}${DIGEST_MARK}${digest}`;
}

/** encodeName's inverse; undefined for what encodeName cannot have written (or wrote with a digest). */
export function decodeName(encoded: string): string | undefined {
  if (encoded.includes(DIGEST_MARK)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i += 1) {
    const ch = encoded[i] as string;
    if (ch === '=') {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEPT.test(ch)) bytes.push(ch.charCodeAt(0));
    else return undefined;
  }
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined; // bytes that are not UTF-8
  }
  return encodeName(name) === encoded ? name : undefined;
}

/** The owner's segment under the prefix. */
export function ownerSegment(owner: BackupOwner): string {
  return owner.kind === 'admin-db' ? ADMIN_DB_SEGMENT : `${encodeName(owner.name)}.${owner.id}`;
}

const DIGEST_FORM = /^(?:[A-Za-z0-9_.-]|=[0-9A-F]{2})*=H[0-9a-f]{32}$/;

/** Could encodeName have written this? */
const isEncodedName = (text: string): boolean => decodeName(text) !== undefined || DIGEST_FORM.test(text);

/** A segment → whose it is: a container's (id, and its encoded name), the admin DB's, or neither (legacy or foreign). */
export function parseOwnerSegment(segment: string): { kind: 'container'; id: number; encodedName: string } | { kind: 'admin-db' } | undefined {
  if (segment === ADMIN_DB_SEGMENT) return { kind: 'admin-db' };
  const match = /^(.*)\.(\d{1,15})$/.exec(segment);
  const encodedName = match?.[1];
  const id = Number(match?.[2]);
  if (encodedName === undefined || !isEncodedName(encodedName) || !Number.isSafeInteger(id)) return undefined;
  return { kind: 'container', id, encodedName };
}

/** Does this segment belong to a container called `name` (any id)? Works for digest-cut names too. */
export function segmentNameIs(segment: string, name: string): boolean {
  const parsed = parseOwnerSegment(segment);
  return parsed?.kind === 'container' && parsed.encodedName === encodeName(name);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const FOLDER_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-[0-9a-f]{6}$/;
const LEGACY_FOLDER_ID = /^\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}$/;

/** A new backup's folder id: its UTC start to the millisecond, and 6 random hex digits. */
export function newFolderId(startedAt: Date, random: string = randomBytes(3).toString('hex')): string {
  const d = startedAt;
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z-${random}`
  );
}

/** The UTC start a folder id records (new folders), or undefined (legacy folders and anything else). */
export function folderStartedAt(folderId: string): Date | undefined {
  const m = FOLDER_ID.exec(folderId);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
}

export const isFolderId = (id: string): boolean => FOLDER_ID.test(id);
/** A folder written before this layout: named by the local-time backup_id. */
export const isLegacyFolderId = (id: string): boolean => LEGACY_FOLDER_ID.test(id);

const joinPrefix = (prefix: string) => (prefix ? `${prefix}/` : '');

/** `{prefix}/`: where every owner's folder is. */
export const prefixFolder = (prefix: string): string => joinPrefix(prefix);

/**
 * `{prefix}/.mydb-backup-check-{pid}-{random}`: `check`'s test object, its own per run, so that two checks at once
 * (cron and an operator) never delete or read each other's. Not an owner folder: listings pass over it.
 */
export function checkProbeKey(prefix: string, random: string = randomBytes(3).toString('hex')): string {
  return `${joinPrefix(prefix)}.mydb-backup-check-${process.pid}-${random}`;
}

/** `{prefix}/{segment}/`: every backup of one owner. */
export function ownerFolder(prefix: string, segment: string): string {
  return `${joinPrefix(prefix)}${segment}/`;
}

/** `{prefix}/{segment}/{folder id}/`: one backup. */
export function backupFolder(prefix: string, segment: string, folderId: string): string {
  return `${ownerFolder(prefix, segment)}${folderId}/`;
}

/** A key under the prefix → its segment, folder id and object name; undefined when it is not at that depth. */
export function parseBackupKey(prefix: string, key: string): { segment: string; folderId: string; objectName: string } | undefined {
  const head = joinPrefix(prefix);
  if (!key.startsWith(head)) return undefined;
  const parts = key.slice(head.length).split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  const [segment, folderId, objectName] = parts as [string, string, string];
  return { segment, folderId, objectName };
}

/**
 * The backup folder (current layout) a backups row's url points at: the folder itself, or an object in it; undefined
 * for another bucket, a legacy folder, or anything else.
 */
export function folderOfUrl(bucket: string, prefix: string, url: string): string | undefined {
  const head = `s3://${bucket}/`;
  if (!url.startsWith(head)) return undefined;
  const key = url.slice(head.length);
  const parsed = parseBackupKey(prefix, key.endsWith('/') ? key + MANIFEST_NAME : key);
  if (!parsed || !isFolderId(parsed.folderId)) return undefined;
  return backupFolder(prefix, parsed.segment, parsed.folderId);
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * The segment the layout before this one gave a name: ASCII letters, digits, '.', '_' and '-', everything else
 * folded to '_' (lossy: several names share one). Only for finding legacy folders.
 */
export function legacySegment(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[.]+/, '_');
  return cleaned.length > 0 ? cleaned.slice(0, 200) : '_';
}
