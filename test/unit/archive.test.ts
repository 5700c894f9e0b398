// Archived backups without servers: what HeadObject's Restore header says, a backup's access and storage class, the
// typical thaw times, the sentences restore, verify and list say, and the thaw's request-and-wait loop against a fake
// S3 client (the real thing, against moto, is test/archived.test.ts).
import { HeadObjectCommand, RestoreObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { archiveNote, mergeBackups } from '../../src/commands/list.js';
import { BackupArchived, ConfigError, RestoreFailed } from '../../src/errors.js';
import { archivedMessage, thawBackup, type ArchivedBackup } from '../../src/restore/thaw.js';
import {
  backupAccess,
  backupStorageClass,
  describeTiers,
  parseRestoreHeader,
  summarizeAccess,
  typicalThawTime,
  type ObjectAccess,
} from '../../src/storage/archive.js';
import { groupBackupObjects } from '../../src/storage/listing.js';

const BUCKET = 'bkt';
const OWNER = 'mydb/shop.7/';
const FOLDER_ID = '20250101T020000.000Z-abcdef';
const FOLDER = `${OWNER}${FOLDER_ID}/`;
const EXPIRY = 'Fri, 23 Dec 2026 00:00:00 GMT';

describe("HeadObject's Restore header", () => {
  it.each([
    [undefined, { state: 'archived' }],
    ['', { state: 'archived' }],
    ['ongoing-request="true"', { state: 'thawing' }],
    [`ongoing-request="false", expiry-date="${EXPIRY}"`, { state: 'thawed', until: new Date(EXPIRY) }],
    ['ongoing-request="false", expiry-date="not a date"', { state: 'thawed' }],
  ])('%j → %j', (header, state) => expect(parseRestoreHeader(header)).toEqual(state));
});

const object = (name: string, storageClass: string | undefined, state: ObjectAccess['state']): ObjectAccess => ({
  name,
  key: FOLDER + name,
  ...(storageClass ? { storageClass } : {}),
  state,
});

describe('a backup is readable when none of its objects is archived or still thawing', () => {
  it('archived and thawing objects block it; the slowest class and the first expiry are named', () => {
    const access = summarizeAccess([
      object('globals.sql', 'STANDARD', { state: 'readable' }),
      object('shop.dump', 'GLACIER', { state: 'thawed', until: new Date('2026-12-24T00:00:00Z') }),
      object('blog.dump', 'DEEP_ARCHIVE', { state: 'thawing' }),
      object('manifest.json', 'GLACIER', { state: 'archived' }),
    ]);
    expect(access.readable).toBe(false);
    expect(access.blocked.map((o) => o.name)).toEqual(['blog.dump', 'manifest.json']);
    expect(access.archiveClass).toBe('DEEP_ARCHIVE');
    expect(access.thawedUntil).toEqual(new Date('2026-12-24T00:00:00Z'));
  });

  it('thawed copies and other classes (GLACIER_IR among them) are readable', () => {
    const access = summarizeAccess([
      object('shop.dump', 'GLACIER', { state: 'thawed' }),
      object('blog.dump', 'GLACIER_IR', { state: 'readable' }),
      object('manifest.json', undefined, { state: 'readable' }),
    ]);
    expect(access).toMatchObject({ readable: true, blocked: [], archiveClass: 'GLACIER' });
  });

  it('asks S3 (HeadObject) only about objects in an archive class', async () => {
    const [folder] = groupBackupObjects(OWNER, [
      { Key: `${FOLDER}shop.dump`, Size: 10, StorageClass: 'GLACIER' },
      { Key: `${FOLDER}globals.sql`, Size: 5, StorageClass: 'GLACIER_IR' },
      { Key: `${FOLDER}manifest.json`, Size: 1, StorageClass: 'STANDARD' },
    ]);
    const fake = fakeS3({ [`${FOLDER}shop.dump`]: ['ongoing-request="true"'] });
    const access = await backupAccess(fake.client, BUCKET, folder!);
    expect(fake.sent).toEqual([{ name: 'HeadObjectCommand', key: `${FOLDER}shop.dump` }]);
    expect(access.blocked.map((o) => [o.name, o.state.state])).toEqual([['shop.dump', 'thawing']]);
  });
});

describe('typical thaw times (S3 Glacier Flexible Retrieval, Deep Archive)', () => {
  it('per tier; DEEP_ARCHIVE offers no Expedited', () => {
    expect(typicalThawTime('GLACIER', 'Expedited')).toEqual({ text: '1–5 minutes', maxMs: 5 * 60_000 });
    expect(typicalThawTime('DEEP_ARCHIVE', 'Bulk')?.maxMs).toBe(48 * 3_600_000);
    expect(typicalThawTime('DEEP_ARCHIVE', 'Expedited')).toBeUndefined();
    expect(describeTiers('GLACIER')).toBe('Expedited 1–5 minutes, Standard 3–5 hours, Bulk 5–12 hours');
    expect(describeTiers('DEEP_ARCHIVE')).toBe('Standard within 12 hours, Bulk within 48 hours');
  });
});

describe("a backup's storage class, as list shows it", () => {
  it.each([
    [[{ bytes: 10, storageClass: 'STANDARD_IA' }, { bytes: 1, storageClass: 'STANDARD' }], 'STANDARD_IA'],
    [[{ bytes: 10, storageClass: 'STANDARD' }, { bytes: 1, storageClass: 'GLACIER' }], 'GLACIER'],
    [[{ bytes: 10, storageClass: 'GLACIER' }, { bytes: 1, storageClass: 'DEEP_ARCHIVE' }], 'DEEP_ARCHIVE'],
    [[{ bytes: 10 }], undefined],
  ])('%j → %s', (objects, expected) => expect(backupStorageClass(objects)).toBe(expected));

  it('list --json carries the class and the archive state of each backup; the text says what to do', () => {
    const folders = groupBackupObjects(OWNER, [
      { Key: `${FOLDER}shop.dump`, Size: 10, StorageClass: 'GLACIER' },
      { Key: `${FOLDER}manifest.json`, Size: 1, StorageClass: 'STANDARD' },
      { Key: `${OWNER}20250301T020000.000Z-aaaaaa/shop.dump`, Size: 10, StorageClass: 'STANDARD' },
    ]);
    const access = summarizeAccess([object('shop.dump', 'GLACIER', { state: 'archived' }), object('manifest.json', 'STANDARD', { state: 'readable' })]);
    const [fresh, old] = mergeBackups(BUCKET, folders, [], new Map([[FOLDER_ID, access]]));
    expect(fresh).toMatchObject({ storageClass: 'STANDARD' });
    expect(fresh!.archive).toBeUndefined();
    expect(archiveNote(fresh!)).toBeUndefined();
    expect(old).toMatchObject({ storageClass: 'GLACIER', archive: { state: 'archived', objects: 1 } });
    expect(archiveNote(old!)).toBe(
      'archived in GLACIER (1 object): needs --thaw to be restored or verified (S3 thaws a copy: Expedited 1–5 minutes, Standard 3–5 hours, Bulk 5–12 hours)',
    );
    expect(archiveNote({ storageClass: 'GLACIER', archive: { state: 'thawing', objects: 2 } })).toBe(
      'archived in GLACIER: S3 is thawing a copy of 2 objects; restore or verify with --thaw waits for it',
    );
    expect(archiveNote({ storageClass: 'DEEP_ARCHIVE', archive: { state: 'thawed', objects: 2, until: '2026-12-23T00:00:00.000Z' } })).toBe(
      'archived in DEEP_ARCHIVE, thawed: readable until 2026-12-23 00:00:00Z',
    );
  });
});

function archivedBackup(states: Record<string, ObjectAccess['state']>, storageClass = 'GLACIER'): ArchivedBackup {
  const [folder] = groupBackupObjects(
    OWNER,
    Object.keys(states).map((name) => ({ Key: FOLDER + name, Size: 10, StorageClass: storageClass })),
  );
  const access = summarizeAccess(Object.entries(states).map(([name, state]) => object(name, storageClass, state)));
  return { name: 'shop', label: '2025-01-01_03:00:00', folder: folder!, access };
}

describe('what restore and verify say about an archived backup', () => {
  it('one sentence: archived where, how many objects, and the --thaw to run with the tiers S3 offers', () => {
    const b = archivedBackup({ 'shop.dump': { state: 'archived' }, 'manifest.json': { state: 'archived' } });
    expect(archivedMessage(b)).toBe(
      "backup 2025-01-01_03:00:00 of 'shop' is archived in GLACIER (2 of its 2 objects) and cannot be read until S3 thaws a copy: " +
        'run the same command with --thaw [--tier Expedited|Standard|Bulk] (typically Expedited 1–5 minutes, Standard 3–5 hours, ' +
        'Bulk 5–12 hours; Standard is the default)',
    );
    const deep = archivedBackup({ 'shop.dump': { state: 'archived' } }, 'DEEP_ARCHIVE');
    expect(archivedMessage(deep)).toContain('--thaw [--tier Standard|Bulk] (typically Standard within 12 hours, Bulk within 48 hours;');
  });

  it('a thaw asked for earlier and still running: wait for it with --thaw', () => {
    const b = archivedBackup({ 'shop.dump': { state: 'thawing' }, 'manifest.json': { state: 'thawed' } });
    expect(archivedMessage(b)).toBe(
      "backup 2025-01-01_03:00:00 of 'shop' is archived in GLACIER and S3 is still thawing a copy of 1 of its 2 objects (asked for earlier): " +
        'it cannot be read yet; run the same command with --thaw to wait for it',
    );
  });
});

/** A fake S3: HeadObject answers each key's next Restore header from its list (the last one repeats). */
function fakeS3(headers: Record<string, (string | undefined)[]>, opts: { restoreError?: Error } = {}) {
  const sent: { name: string; key: string; input?: unknown }[] = [];
  const client = {
    send: async (command: HeadObjectCommand | RestoreObjectCommand) => {
      const key = command.input.Key!;
      if (command instanceof RestoreObjectCommand) {
        sent.push({ name: 'RestoreObjectCommand', key, input: command.input.RestoreRequest });
        if (opts.restoreError) throw opts.restoreError;
        return {};
      }
      sent.push({ name: 'HeadObjectCommand', key });
      const answers = headers[key] ?? [];
      return { Restore: answers.length > 1 ? answers.shift() : answers[0] };
    },
  } as unknown as S3Client;
  return { client, sent };
}

const quiet = pino({ level: 'silent' });
function thawContext(client: S3Client, lines: string[], signal = new AbortController().signal) {
  return { client, bucket: BUCKET, log: quiet, print: (l: string) => lines.push(l), signal, pollMs: 5 };
}

describe('--thaw: ask S3 for a copy of every archived object, then wait for them', () => {
  it('asks for archived and already thawed objects (their copies live longer), leaves running thaws alone, waits, goes on', async () => {
    const b = archivedBackup({ 'a.dump': { state: 'archived' }, 'b.dump': { state: 'thawing' }, 'manifest.json': { state: 'thawed' } });
    const thawed = `ongoing-request="false", expiry-date="${EXPIRY}"`;
    const fake = fakeS3({
      [`${FOLDER}a.dump`]: ['ongoing-request="true"', 'ongoing-request="true"', thawed],
      [`${FOLDER}b.dump`]: ['ongoing-request="true"', thawed],
      [`${FOLDER}manifest.json`]: [thawed],
    });
    const lines: string[] = [];
    await thawBackup(b, { tier: 'Bulk', days: 3, waitMs: 60_000 }, thawContext(fake.client, lines));
    expect(fake.sent.filter((s) => s.name === 'RestoreObjectCommand')).toEqual([
      { name: 'RestoreObjectCommand', key: `${FOLDER}a.dump`, input: { Days: 3, GlacierJobParameters: { Tier: 'Bulk' } } },
      { name: 'RestoreObjectCommand', key: `${FOLDER}manifest.json`, input: { Days: 3, GlacierJobParameters: { Tier: 'Bulk' } } },
    ]);
    expect(lines).toEqual([
      'Thaw of backup 2025-01-01_03:00:00 (GLACIER): asked S3 for a copy of 2 objects, 1 object already being thawed (Bulk tier, typically 5–12 hours; the copies stay readable for 3 days)',
      expect.stringMatching(/^ {2}waiting for S3: 1 of 3 objects readable \(\d+ ms so far\)$/),
      expect.stringMatching(/^ {2}waiting for S3: 2 of 3 objects readable/),
      '  thawed: all 3 objects readable until 2026-12-23 00:00 UTC',
    ]);
  });

  it('when the wait runs out: exit 5 (BackupArchived) saying when to come back, from when it asked and the tier', async () => {
    const b = archivedBackup({ 'a.dump': { state: 'archived' } });
    const fake = fakeS3({ [`${FOLDER}a.dump`]: ['ongoing-request="true"'] });
    const before = Date.now();
    const err = await thawBackup(b, { tier: 'Standard', days: 2, waitMs: 0 }, thawContext(fake.client, [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupArchived);
    const match = new RegExp(
      "^S3 is still thawing 1 of the 1 objects of backup 2025-01-01_03:00:00 of 'shop' from GLACIER \\(Standard tier, typically 3–5 hours from (.+) UTC\\); " +
        'come back after about (.+) UTC and run the same command again with --thaw \\(nothing is asked for twice\\)$',
    ).exec((err as Error).message);
    expect(match, (err as Error).message).not.toBeNull();
    const [asked, comeBack] = [new Date(`${match![1]}Z`).getTime(), new Date(`${match![2]}Z`).getTime()];
    expect(Math.abs(asked - before)).toBeLessThan(60_000);
    expect(comeBack - asked).toBe(5 * 3_600_000);
    expect(fake.sent.map((s) => s.name)).toEqual(['RestoreObjectCommand', 'HeadObjectCommand']);
  });

  it('refuses a tier S3 does not offer for the class before asking anything (exit 2)', async () => {
    const b = archivedBackup({ 'a.dump': { state: 'archived' } }, 'DEEP_ARCHIVE');
    const fake = fakeS3({});
    const err = await thawBackup(b, { tier: 'Expedited', days: 2 }, thawContext(fake.client, [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('Expedited retrieval is not offered for DEEP_ARCHIVE: use --tier Standard (within 12 hours) or --tier Bulk (within 48 hours)');
    expect(fake.sent).toEqual([]);
  });

  it('a refused RestoreObject is one sentence naming the permission', async () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', Code: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const fake = fakeS3({}, { restoreError: denied });
    const err = await thawBackup(archivedBackup({ 'a.dump': { state: 'archived' } }), { tier: 'Standard', days: 2 }, thawContext(fake.client, [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreFailed);
    expect((err as Error).message).toBe(
      `could not ask S3 to thaw s3://${BUCKET}/${FOLDER}a.dump: AccessDenied (HTTP 403): Access Denied (the credentials lack s3:RestoreObject: docs/iam-policy.md)`,
    );
  });
});
