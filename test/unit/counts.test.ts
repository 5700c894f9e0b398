import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { CountingTap } from '../../src/counts/stream.js';
import { archiveRowCounts, MongoArchiveCounter } from '../../src/counts/mongo-archive.js';
import { archiveBuffer } from '../fixtures/mongo-archive-writer.mjs';
import { compareRowCounts } from '../../src/restore/test-restore.js';
import { manifestRows } from '../../src/storage/manifest.js';

const sink = () => new Writable({ write: (_c, _e, done) => done() });

describe('CountingTap', () => {
  it('passes every byte on, and gives the counter\'s result at the end', async () => {
    const seen: Buffer[] = [];
    const tap = new CountingTap({ push: (c) => void seen.push(c), end: () => ({ db: { t: seen.length } }) });
    const out: Buffer[] = [];
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('bc')]), tap, new Writable({ write: (c, _e, done) => (out.push(c), done()) }));
    expect(Buffer.concat(out).toString()).toBe('abc');
    expect(await tap.result()).toEqual({ counts: { db: { t: 2 } } });
  });

  it('a counter that cannot follow the stream stops counting and says why, without failing the stream', async () => {
    let pushes = 0;
    const tap = new CountingTap({
      push: () => {
        if (++pushes === 2) throw new Error('unexpected format at byte 7');
      },
      end: () => ({}),
    });
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), tap, sink());
    expect(pushes).toBe(2); // not asked again after it failed
    expect(await tap.result()).toEqual({ error: 'unexpected format at byte 7' });
  });

  it('a counter whose end() rejects (a cut stream) gives its reason', async () => {
    const tap = new CountingTap({ push: () => {}, end: async () => Promise.reject(new Error('archive is truncated')) });
    await pipeline(Readable.from([Buffer.from('a')]), tap, sink());
    expect(await tap.result()).toEqual({ error: 'archive is truncated' });
  });
});

describe('CountingTap with a gzip archive', () => {
  it('waits for gunzip (backpressure) instead of queueing the stream in memory, and counts right', async () => {
    const docs = Array.from({ length: 60_000 }, (_, i) => ({ i, text: `document ${i} `.repeat(20) }));
    const archive = gzipSync(archiveBuffer([{ db: 'shop', collection: 'orders', docs }]), { level: 9 });
    const counter = new MongoArchiveCounter(true);
    let waits = 0;
    const backlog = counter.backlog.bind(counter);
    counter.backlog = () => {
      const wait = backlog();
      if (wait) waits++;
      return wait;
    };
    const tap = new CountingTap(counter);
    const chunks = Array.from({ length: Math.ceil(archive.length / 65536) }, (_, i) => archive.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(Readable.from(chunks), tap, sink());
    expect(await tap.result()).toEqual({ counts: { shop: { orders: 60_000 } } });
    expect(waits).toBeGreaterThan(0); // the compressed stream outran gunzip at least once, and waited
  });
});

describe('row counts', () => {
  it('archive namespaces split at their first dot (collection names may hold dots)', () => {
    expect(archiveRowCounts({ collections: { 'shop.orders': 3, 'shop.system.buckets.m': 2, 'admin.system.version': 1 }, bytes: 0 })).toEqual({
      shop: { orders: 3, 'system.buckets.m': 2 },
      admin: { 'system.version': 1 },
    });
  });

  it('manifestRows merges the objects\' counts; none counted → undefined', () => {
    const o = (rows?: Record<string, Record<string, number>>) => ({ name: 'x', bytes: 1, sha256: '0'.repeat(64), ...(rows ? { rows } : {}) });
    expect(manifestRows([o(), o({ a: { t: 1 } }), o({ b: { u: 2 } })])).toEqual({ a: { t: 1 }, b: { u: 2 } });
    expect(manifestRows([o(), o()])).toBeUndefined();
  });

  it('compareRowCounts names tables that differ or did not come back; extra or empty-and-missing tables are fine', () => {
    const stats = [
      { database: 'shop', tables: [{ table: 'public.a', rows: 5 }, { table: 'public.b', rows: 7 }, { table: 'public.extra', rows: 1 }], rows: 13, largeObjects: 0 },
    ];
    expect(compareRowCounts({ shop: { 'public.a': 5, 'public.b': 7, 'public.empty': 0 } }, stats)).toEqual([]);
    expect(compareRowCounts({ shop: { 'public.a': 5, 'public.b': 8, 'public.gone': 1200 }, other: { t: 1 } }, stats)).toEqual([
      'other: t (1 rows) did not come back',
      'shop: public.b has 7 rows, the backup counted 8',
      'shop: public.gone (1,200 rows) did not come back',
    ]);
    expect(compareRowCounts({ mysql: { user: 3 } }, [], ['mysql'])).toEqual([]);
  });
});
