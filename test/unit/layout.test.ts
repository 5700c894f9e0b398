// The S3 layout's invariants, over many names: one-to-one names, owners and folders; nothing leaves its folder;
// "latest" is by UTC time whatever the local clock shows.
import { describe, expect, it } from 'vitest';
import {
  checkProbeKey,
  ADMIN_DB_SEGMENT,
  backupFolder,
  decodeName,
  encodeName,
  folderStartedAt,
  isFolderId,
  newFolderId,
  ownerSegment,
  parseBackupKey,
  parseOwnerSegment,
  segmentNameIs,
} from '../../src/storage/layout.js';
import { byNewestStart, groupBackupObjects } from '../../src/storage/listing.js';
import { formatBackupId } from '../../src/util/time.js';
import { databaseObjectName, databaseOfObject } from '../../src/engines/postgres.js';

/** A deterministic stream of awkward names: ASCII punctuation, spaces, unicode (composed and not), long ones. */
function* awkwardNames(): Generator<string> {
  const fixed = [
    '', 'a', 'a b', 'a_b', 'a-b', 'a.b', '.', '..', '.hidden', 'a..b', 'a=b', 'a=20b', '=', '=H', '_admin-db', '_admin-db.7',
    'alpha.12', 'alpha', 'база', '数据', 'cafe', 'café', 'cafe\u0301', 'Ünïcode db', 'tâble', 'a/b', '../../etc', 'x%2Fy',
    'quote"s', "it's", 'tab\there', 'new\nline', '☃', '😀', 'A', 'a'.repeat(300), 'a'.repeat(299) + 'b', 'é'.repeat(150),
    'é'.repeat(149) + 'e',
  ];
  yield* fixed;
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const alphabet = ['a', 'Z', '0', '_', '-', '.', ' ', '/', '=', '%', 'é', 'ß', 'д', '字', '😀', '"', "'", '\\', '\u0301', '~'];
  for (let i = 0; i < 3000; i += 1) {
    let s = '';
    const len = next() % 12;
    for (let j = 0; j < len; j += 1) s += alphabet[next() % alphabet.length];
    yield s;
  }
}

const names = [...new Set(awkwardNames())];

describe('encodeName', () => {
  it('is one-to-one over thousands of awkward names (different names never share an encoding)', () => {
    const seen = new Map<string, string>();
    for (const name of names) {
      const encoded = encodeName(name);
      expect(seen.get(encoded) ?? name, `${JSON.stringify(name)} and ${JSON.stringify(seen.get(encoded))} → ${encoded}`).toBe(name);
      seen.set(encoded, name);
    }
  });

  it('gives every name back exactly (unless cut with a digest), and keeps plain names as they are', () => {
    for (const name of names) {
      const encoded = encodeName(name);
      if (!encoded.includes('=H')) expect(decodeName(encoded)).toBe(name);
    }
    for (const plain of ['shop', 'shop_prod', 'app-2', 'v1.2', 'A_b-C.9']) expect(encodeName(plain)).toBe(plain);
    expect(encodeName('a b')).toBe('a=20b');
    expect(encodeName('café')).toBe('caf=C3=A9');
    expect(encodeName('.hidden')).toBe('=2Ehidden');
  });

  it('writes only characters S3 keys can hold safely, never a path separator or a dot segment, and stays short', () => {
    for (const name of names) {
      const encoded = encodeName(name);
      expect(encoded).toMatch(/^[A-Za-z0-9_.=-]*$/);
      expect(encoded.startsWith('.')).toBe(false);
      expect(encoded.length).toBeLessThanOrEqual(200);
    }
  });

  it('refuses to decode what it cannot have written', () => {
    for (const bad of ['a b', '=2', '=zz', '=2e', '.x', '=C3', 'a/b']) expect(decodeName(bad), bad).toBeUndefined();
  });
});

describe('owner segments', () => {
  it('are one-to-one over (id, name): same name other id, names that clean alike, and the admin DB never meet', () => {
    const seen = new Map<string, string>();
    const owners = [...names.slice(0, 400).flatMap((name) => [1, 2, 12, 123456].map((id) => ({ kind: 'container' as const, id, name }))), { kind: 'admin-db' as const }];
    for (const owner of owners) {
      const segment = ownerSegment(owner);
      const key = JSON.stringify(owner);
      expect(seen.get(segment) ?? key, segment).toBe(key);
      seen.set(segment, key);
      expect(parseOwnerSegment(segment)).toMatchObject(owner.kind === 'admin-db' ? { kind: 'admin-db' } : { kind: 'container', id: owner.id });
      if (owner.kind === 'container') expect(segmentNameIs(segment, owner.name)).toBe(true);
    }
    expect(ownerSegment({ kind: 'container', id: 5, name: '_admin-db' })).toBe('_admin-db.5');
    expect(ownerSegment({ kind: 'container', id: 12, name: 'alpha' })).toBe('alpha.12');
    expect(segmentNameIs('alpha.12', 'alpha.1')).toBe(false);
  });

  it('a key built from any owner, folder and object parses back to them', () => {
    for (const name of names.slice(0, 200)) {
      const segment = ownerSegment({ kind: 'container', id: 3, name });
      const folderId = newFolderId(new Date());
      const key = `${backupFolder('mydb/sub', segment, folderId)}${databaseObjectName(name || 'x')}`;
      expect(parseBackupKey('mydb/sub', key)).toEqual({ segment, folderId, objectName: databaseObjectName(name || 'x') });
    }
  });
});

describe('database object names', () => {
  it('give every database its own object, and its real name back', () => {
    const objects = new Map<string, string>();
    for (const db of names.filter((n) => n !== '' && Buffer.byteLength(n) <= 63)) {
      const object = databaseObjectName(db);
      expect(objects.get(object) ?? db).toBe(db);
      objects.set(object, db);
      expect(databaseOfObject(object)).toBe(db);
      expect(databaseOfObject(`${object}.zst`)).toBe(db);
    }
    expect(databaseObjectName('cafe')).not.toBe(databaseObjectName('café'));
  });
});

describe('folder ids', () => {
  it('two backups started in the same millisecond get different folders; each records its UTC start', () => {
    const at = new Date('2026-12-01T02:00:07.123Z');
    const ids = new Set(Array.from({ length: 1000 }, () => newFolderId(at)));
    expect(ids.size).toBeGreaterThan(990);
    for (const id of ids) {
      expect(isFolderId(id)).toBe(true);
      expect(id).not.toContain(':');
      expect(folderStartedAt(id)).toEqual(at);
    }
  });

  it('on the DST fall-back night, the two 01:30s share a local backup_id but not a folder, and latest is the later one', () => {
    const previous = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      const pdt = new Date('2026-11-01T08:30:00Z'); // 01:30 PDT
      const pst = new Date('2026-11-01T09:30:00Z'); // 01:30 PST, an hour later
      expect(formatBackupId(pdt)).toBe(formatBackupId(pst));
      const a = newFolderId(pdt);
      const b = newFolderId(pst);
      expect(a).not.toBe(b);
      const prefix = 'mydb/shop.1/';
      const folders = groupBackupObjects(prefix, [
        { Key: `${prefix}${a}/x.dump`, Size: 1 },
        { Key: `${prefix}${b}/x.dump`, Size: 2 },
        // 01:50 PDT sorted after 01:10 PST as local strings; by UTC it is older.
        { Key: `${prefix}${newFolderId(new Date('2026-11-01T08:50:00Z'))}/x.dump`, Size: 3 },
        { Key: `${prefix}${newFolderId(new Date('2026-11-01T09:10:00Z'))}/x.dump`, Size: 4 },
      ]);
      expect(folders.map((f) => f.bytes)).toEqual([2, 4, 3, 1]);
      expect([...folders].sort(byNewestStart).map((f) => f.bytes)).toEqual([2, 4, 3, 1]);
    } finally {
      process.env.TZ = previous;
    }
  });

  it('a clock step back does not reuse a folder: the random part differs', () => {
    const at = new Date('2026-12-01T02:00:00Z');
    expect(newFolderId(at, 'aaaaaa')).not.toBe(newFolderId(at, 'bbbbbb'));
    expect(ADMIN_DB_SEGMENT).toBe('_admin-db');
  });
});

describe("check's test object", () => {
  it('is its own per run, under the prefix, and no owner folder nor backup key', () => {
    const keys = Array.from({ length: 50 }, () => checkProbeKey('mydb'));
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(key).toMatch(new RegExp(`^mydb/\\.mydb-backup-check-${process.pid}-[0-9a-f]{6}$`));
      expect(parseBackupKey('mydb', key)).toBeUndefined();
    }
    expect(checkProbeKey('', 'abcdef')).toBe(`.mydb-backup-check-${process.pid}-abcdef`);
  });
});
