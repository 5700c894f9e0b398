// Backups S3 has archived (GLACIER, DEEP_ARCHIVE): restore and verify refuse them in one sentence before reading a
// byte, or, with --thaw, ask S3 for a temporary copy of each archived object and wait for it (bounded by --thaw-wait),
// then go on as usual; when the wait runs out they say when to come back. Nothing is read or written meanwhile.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { BackupArchived, ConfigError, RestoreFailed } from '../errors.js';
import {
  backupAccess,
  describeTiers,
  requestThaw,
  THAW_TIERS,
  typicalThawTime,
  type ArchiveClass,
  type BackupAccess,
  type ThawTier,
} from '../storage/archive.js';
import { s3Url } from '../storage/layout.js';
import type { BackupFolder } from '../storage/listing.js';
import { describeS3Error, s3ErrorOf } from '../storage/s3-errors.js';
import { formatDuration } from '../util/format.js';
import { monotonicNow, msSince } from '../util/time.js';

/** A backup that cannot be read now, as findBackup found it (before its manifest, which may be archived too). */
export interface ArchivedBackup {
  /** The owner's name. */
  name: string;
  /** How messages name the backup (backupLabel). */
  label: string;
  folder: BackupFolder;
  access: BackupAccess;
}

/** --thaw and its settings. */
export interface ThawOptions {
  tier: ThawTier;
  /** How long to wait for the copies; undefined: as long as the tier typically takes. 0: ask and do not wait. */
  waitMs?: number;
  /** How long S3 keeps the thawed copies readable. */
  days: number;
}

export const DEFAULT_THAW_DAYS = 2;

const utcMinute = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function objectsPhrase(access: BackupAccess, which: BackupAccess['objects']): string {
  return `${which.length} of its ${access.objects.length} object${access.objects.length === 1 ? '' : 's'}`;
}

/** `--thaw [--tier Expedited|Standard|Bulk] (typically Expedited 1–5 minutes, Standard 3–5 hours, Bulk 5–12 hours; Standard is the default)`. */
function thawHint(archiveClass: ArchiveClass): string {
  const tiers = describeTiers(archiveClass);
  const names = tiers.split(', ').map((t) => t.split(' ')[0]);
  return `--thaw [--tier ${names.join('|')}] (typically ${tiers}; Standard is the default)`;
}

/** The backup, for BackupArchived. */
export function archivedId(b: ArchivedBackup): BackupArchived['backup'] {
  return { label: b.label, folderId: b.folder.folderId, ...(b.access.archiveClass ? { archiveClass: b.access.archiveClass } : {}) };
}

/** The one sentence restore and verify answer an archived backup with, when not asked to thaw it. Pure. */
export function archivedMessage(b: ArchivedBackup): string {
  const cls = b.access.archiveClass ?? 'an archive storage class';
  const archived = b.access.blocked.filter((o) => o.state.state === 'archived');
  const thawing = b.access.blocked.filter((o) => o.state.state === 'thawing');
  const what = `backup ${b.label} of '${b.name}' is archived in ${cls}`;
  if (archived.length === 0) {
    return `${what} and S3 is still thawing a copy of ${objectsPhrase(b.access, thawing)} (asked for earlier): it cannot be read yet; run the same command with --thaw to wait for it`;
  }
  return `${what} (${objectsPhrase(b.access, archived)}) and cannot be read until S3 thaws a copy: run the same command with ${thawHint(cls as ArchiveClass)}`;
}

export interface ThawContext {
  client: S3Client;
  bucket: string;
  log: Logger;
  print: (line: string) => void;
  signal: AbortSignal;
  /** How often to look (HeadObject of each object still thawing). */
  pollMs: number;
}

/**
 * Asks S3 to thaw every archived object of the backup (its manifest included; copies already thawed get their life
 * extended, ones being thawed are left alone), then waits, looking every `pollMs`, until all are readable. Throws
 * BackupArchived saying when to come back when the wait runs out (or is interrupted), ConfigError for a tier S3 does
 * not offer for the class, RestoreFailed when S3 refuses the request.
 */
export async function thawBackup(b: ArchivedBackup, opts: ThawOptions, ctx: ThawContext): Promise<void> {
  const cls = b.access.archiveClass;
  if (!cls) throw new Error(`backup ${b.label} is not archived`);
  const time = typicalThawTime(cls, opts.tier);
  if (!time) {
    const offered = THAW_TIERS.flatMap((t) => {
      const typical = typicalThawTime(cls, t);
      return typical ? [`--tier ${t} (${typical.text})`] : [];
    });
    throw new ConfigError(`${opts.tier} retrieval is not offered for ${cls}: use ${offered.join(' or ')}`);
  }
  const waitMs = opts.waitMs ?? time.maxMs;
  const toAsk = b.access.objects.filter((o) => o.state.state === 'archived' || o.state.state === 'thawed');
  const askedAt = new Date();
  let asked = 0;
  for (const o of toAsk) {
    try {
      if ((await requestThaw(ctx.client, ctx.bucket, o.key, opts)) === 'requested') asked += 1;
    } catch (err) {
      throw new RestoreFailed(`could not ask S3 to thaw ${s3Url(ctx.bucket, o.key)}: ${describeS3Error(err)}${thawRefusalHint(err)}`);
    }
  }
  const alreadyThawing = b.access.objects.filter((o) => o.state.state === 'thawing').length;
  const plural = (n: number) => `${n} object${n === 1 ? '' : 's'}`;
  const done = [...(asked ? [`asked S3 for a copy of ${plural(asked)}`] : []), ...(alreadyThawing ? [`${plural(alreadyThawing)} already being thawed`] : [])];
  ctx.print(
    `Thaw of backup ${b.label} (${cls}): ${done.join(', ') || 'nothing to ask for'} (${opts.tier} tier, typically ${time.text}; ` +
      `the copies stay readable for ${opts.days} day${opts.days === 1 ? '' : 's'})`,
  );
  ctx.log.info({ backup: b.label, folder: b.folder.folder, storageClass: cls, tier: opts.tier, days: opts.days, asked, alreadyThawing }, 'thaw requested');

  const started = monotonicNow();
  let lastReady = -1;
  for (;;) {
    const now = await backupAccess(ctx.client, ctx.bucket, b.folder, ctx.signal).catch((err: unknown) => {
      if (ctx.signal.aborted) return undefined;
      throw new RestoreFailed(`could not look at the thaw of backup ${b.label} (${s3Url(ctx.bucket, b.folder.folder)}): ${describeS3Error(err)}`);
    });
    if (now?.readable) {
      ctx.print(`  thawed: all ${now.objects.length} objects readable${now.thawedUntil ? ` until ${utcMinute(now.thawedUntil)}` : ''}`);
      return;
    }
    const waited = msSince(started);
    if (now) {
      const ready = now.objects.length - now.blocked.length;
      ctx.log.info({ backup: b.label, readable: ready, of: now.objects.length, waitedMs: waited }, 'thaw progress');
      if (ready !== lastReady) ctx.print(`  waiting for S3: ${ready} of ${now.objects.length} objects readable (${formatDuration(waited)} so far)`);
      lastReady = ready;
    }
    if (ctx.signal.aborted || waited + ctx.pollMs > waitMs) {
      const left = now?.blocked.length ?? b.access.blocked.length;
      const by = asked > 0 ? `; come back after about ${utcMinute(new Date(askedAt.getTime() + time.maxMs))}` : '; come back later';
      throw new BackupArchived(
        `S3 is still thawing ${left} of the ${b.access.objects.length} objects of backup ${b.label} of '${b.name}' from ${cls} ` +
          `(${opts.tier} tier, typically ${time.text}${asked > 0 ? ` from ${utcMinute(askedAt)}` : ' from when it was asked for'})${by} ` +
          'and run the same command again with --thaw (nothing is asked for twice)',
        archivedId(b),
      );
    }
    await sleep(ctx.pollMs, ctx.signal);
  }
}

/** What an operator can do about a refused RestoreObject. */
function thawRefusalHint(err: unknown): string {
  switch (s3ErrorOf(err).code) {
    case 'AccessDenied':
      return ' (the credentials lack s3:RestoreObject: docs/iam-policy.md)';
    case 'GlacierExpeditedRetrievalNotAvailable':
      return ' (S3 has no Expedited capacity now: use --tier Standard)';
    default:
      return '';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
