// The mongodump archive check (src/engines/mongo-archive.ts) against archives written the way mongodump writes them
// (test/fixtures/mongo-archive-writer.mjs), cut, bent and fed a byte at a time. The stand-in mongodump's archives, as
// a child process writes them: test/engine-commands.test.ts.
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ArchiveCorrupt, MongoArchiveParser, crc64Ecma, summarizeArchive, type ArchiveSummary } from '../../src/engines/mongo-archive.js';
import { ARCHIVE_MAGIC, Double, TERMINATOR, archiveBuffer, crc64, encodeBson, type ArchiveNamespace } from '../fixtures/mongo-archive-writer.mjs';

const docs = (n: number, collection: string) =>
  Array.from({ length: n }, (_, i) => ({ _id: i, name: `${collection}-${i}`, price: new Double(i + 0.5), paid: i % 2 === 0, address: { city: 'Bern', zip: 3000 + i }, photo: Buffer.alloc(i * 3, i) }));

const NAMESPACES: ArchiveNamespace[] = [
  { db: 'shop', collection: 'orders', docs: docs(12, 'orders') },
  { db: 'shop', collection: 'audit_log', docs: [] },
  { db: 'crm', collection: 'contacts', docs: docs(5, 'contacts') },
];
const COUNTS = { 'shop.orders': 12, 'shop.audit_log': 0, 'crm.contacts': 5 };

async function parse(buf: Buffer, gzip: boolean, chunk = buf.length || 1): Promise<ArchiveSummary> {
  const parser = new MongoArchiveParser({ gzip });
  for (let i = 0; i < buf.length; i += chunk) parser.push(buf.subarray(i, i + chunk));
  return parser.end();
}

/** The ArchiveCorrupt a parse ends in (fails the test if it returns a summary). */
async function corruption(buf: Buffer, gzip = false): Promise<ArchiveCorrupt> {
  const err = await parse(buf, gzip).then(
    (summary) => new Error(`parsed: ${JSON.stringify(summary)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveCorrupt);
  return err as ArchiveCorrupt;
}

describe('CRC-64 (Go hash/crc64, ECMA table)', () => {
  it('matches the check value and the writer’s byte-wise table on odd lengths and offsets', () => {
    expect(crc64Ecma(Buffer.from('123456789')).toString(16)).toBe('995dc9bbdf1939fa');
    expect(crc64Ecma(Buffer.alloc(0))).toBe(0n);
    const data = Buffer.from(Array.from({ length: 10_007 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff));
    for (const [start, end] of [[0, 10_007], [1, 10_000], [3, 11], [5, 5], [7, 8]] as const) {
      expect(crc64Ecma(data.subarray(start, end))).toBe(crc64(data.subarray(start, end)));
    }
  });
});

describe('MongoArchiveParser', () => {
  const plain = archiveBuffer(NAMESPACES);
  const gzipped = archiveBuffer(NAMESPACES, { gzip: true });

  it('the writer’s archive is shaped like mongodump’s: magic, prelude header, whole-stream gzip', () => {
    expect(plain.subarray(0, 4)).toEqual(ARCHIVE_MAGIC);
    expect(plain.subarray(-4)).toEqual(TERMINATOR);
    expect(plain.includes(Buffer.from('concurrent_collections\0'))).toBe(true);
    expect(gzipped.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(gzipped)).toEqual(plain);
  });

  it.each([false, true])('round trip (gzip %s): counts per namespace, an empty collection counts 0, bytes of the plain archive', async (gzip) => {
    const summary = await parse(gzip ? gzipped : plain, gzip);
    expect(summary).toEqual({ collections: COUNTS, bytes: plain.length });
    expect(Object.keys(summary.collections)).toEqual(Object.keys(COUNTS));
    expect(await summarizeArchive(Readable.from([gzip ? gzipped : plain]), { gzip })).toEqual(summary);
  });

  it.each([false, true])('interleaved namespaces in many small blocks, as parallel dumps write them (gzip %s)', async (gzip) => {
    const many: ArchiveNamespace[] = [
      { db: 'a', collection: 'x', docs: docs(30, 'x') },
      { db: 'a', collection: 'y', docs: docs(20, 'y') },
      { db: 'b', collection: 'x', docs: docs(25, 'bx') },
      { db: 'b', collection: 'none', docs: [] },
    ];
    const buf = archiveBuffer(many, { gzip, interleave: true, bufferSize: 200 });
    const headers = (gzip ? gunzipSync(buf) : buf).toString('latin1').split('EOF\0').length - 1;
    expect(headers).toBeGreaterThan(20); // many blocks, not one per namespace
    expect((await parse(buf, gzip)).collections).toEqual({ 'a.x': 30, 'a.y': 20, 'b.x': 25, 'b.none': 0 });
  });

  it.each([false, true])('chunk boundaries anywhere: one byte at a time gives the same summary (gzip %s)', async (gzip) => {
    expect(await parse(gzip ? gzipped : plain, gzip, 1)).toEqual({ collections: COUNTS, bytes: plain.length });
    expect(await parse(gzip ? gzipped : plain, gzip, 7)).toEqual({ collections: COUNTS, bytes: plain.length });
  });

  it('an archive cut at any byte is corrupt, never a summary', async () => {
    for (let cut = 0; cut < plain.length; cut++) {
      const err = await corruption(plain.subarray(0, cut));
      expect(err.message).toMatch(/^archive is (empty|truncated)/);
    }
  });

  it('a gzip archive cut anywhere is corrupt too, and so is a complete gzip stream of a cut archive', async () => {
    for (let cut = 0; cut < gzipped.length; cut += 3) await corruption(gzipped.subarray(0, cut), true);
    for (let cut = 0; cut < plain.length; cut += 97) await corruption(gzipSync(plain.subarray(0, cut)), true);
    expect((await corruption(gzipped.subarray(0, gzipped.length - 5), true)).message).toMatch(/^archive is truncated: the gzip stream ends early/);
  });

  it('says which namespace is unfinished', async () => {
    // Cut right after the last document of crm.contacts, before its terminator and EOF block.
    const eof = plain.lastIndexOf(encodeBson({ db: 'crm', collection: 'contacts', EOF: true }).subarray(4, 20));
    const err = await corruption(plain.subarray(0, eof - 4 - 4));
    expect(err.message).toMatch(/^archive is truncated at offset \d+: the block of crm.contacts starting at offset \d+ has no terminator$/);
    expect((await corruption(plain.subarray(0, eof - 4))).message).toBe('archive is truncated: namespace crm.contacts has no EOF block');
  });

  it('a flipped byte inside a document is a CRC mismatch for its namespace', async () => {
    const at = plain.indexOf(Buffer.from('orders-7'));
    const bent = Buffer.from(plain);
    bent[at + 3] = bent[at + 3]! ^ 0x20;
    expect((await corruption(bent)).message).toMatch(/^CRC mismatch for shop\.orders: its EOF block at offset \d+ says -?\d+, its 12 documents hash to -?\d+$/);
    expect((await corruption(gzipSync(bent), true)).message).toMatch(/^CRC mismatch for shop\.orders/);
    expect((await corruption(archiveBuffer(NAMESPACES, { corruptCrc: 'crm.contacts' }))).message).toMatch(/^CRC mismatch for crm\.contacts/);
  });

  it('names what is wrong and where', async () => {
    expect((await corruption(Buffer.from('{"not":"an archive"}'))).message).toMatch(/^bad magic: the archive starts with 7b226e6f/);
    expect((await corruption(gzipped)).message).toMatch(/^bad magic: .*it is gzip: was --gzip forgotten/);
    expect((await corruption(plain, true)).message).toMatch(/^archive is not valid gzip: incorrect header check/);
    const padded = Buffer.concat([gzipped, Buffer.alloc(10)]); // zlib alone would stop quietly at the padding
    expect((await corruption(padded, true)).message).toBe('archive has 10 bytes after the end of its gzip stream');
    await expect(summarizeArchive(Readable.from([padded]), { gzip: true })).rejects.toThrow('archive has 10 bytes after the end of its gzip stream');

    const len3 = Buffer.concat([ARCHIVE_MAGIC, Buffer.from([3, 0, 0, 0])]);
    expect((await corruption(len3)).message).toBe('BSON document length 3 at offset 4 is invalid (neither 5 to 16 MiB nor a terminator)');

    const header = (db: string, collection: string, EOF: boolean, CRC = 0n) => encodeBson({ db, collection, EOF, CRC });
    const prelude = (...names: string[]) => [
      ARCHIVE_MAGIC,
      encodeBson({ concurrent_collections: 4, version: '0.1', server_version: '7.0.14', tool_version: '100.10.0' }),
      ...names.map((n) => encodeBson({ db: n.split('.')[0]!, collection: n.split('.')[1]!, metadata: '', size: 0, type: 'collection' })),
      TERMINATOR,
    ];
    const doc = encodeBson({ _id: 1 });
    const crcOfDoc = BigInt.asIntN(64, crc64(doc));

    // The smallest valid archives: no collections; one empty collection; one document.
    expect(await parse(Buffer.concat(prelude()), false)).toEqual({ collections: {}, bytes: Buffer.concat(prelude()).length });
    expect((await parse(Buffer.concat([...prelude('d.c'), header('d', 'c', false), TERMINATOR, header('d', 'c', true), TERMINATOR]), false)).collections).toEqual({ 'd.c': 0 });
    expect((await parse(Buffer.concat([...prelude('d.c'), header('d', 'c', false), doc, TERMINATOR, header('d', 'c', true, crcOfDoc), TERMINATOR]), false)).collections).toEqual({ 'd.c': 1 });

    const cases: [Buffer[], RegExp][] = [
      [[ARCHIVE_MAGIC, TERMINATOR], /^archive has no header document: a terminator at offset 4$/],
      [[...prelude(), TERMINATOR], /^a terminator at offset \d+ where a namespace header should be/],
      [[...prelude('d.c')], /^archive is truncated: namespace d\.c \(listed in the prelude at offset \d+\) never appears$/],
      [[...prelude(), header('d', 'c', true), doc, TERMINATOR], /^document at offset \d+ follows the EOF block of d\.c/],
      [[...prelude(), header('d', 'c', true), TERMINATOR, header('d', 'c', false), TERMINATOR], /^namespace d\.c appears again at offset \d+, after its EOF block$/],
      [[...prelude(), encodeBson({ db: 'd', EOF: false }), TERMINATOR], /^namespace header at offset \d+ has no collection$/],
      [[...prelude(), header('d', 'c', false), Buffer.from([6, 0, 0, 0, 1, 1])], /^BSON document at offset \d+ of d\.c \(6 bytes\) does not end with a 0 byte$/],
      [[...prelude(), header('d', 'c', false), TERMINATOR, header('d', 'c', true, 5n), TERMINATOR], /^CRC mismatch for d\.c: its EOF block at offset \d+ says 5, its 0 documents hash to 0$/],
      [[ARCHIVE_MAGIC, encodeBson({ version: 1 }), TERMINATOR], /^archive header at offset 4 has no string 'version'$/],
      [[...prelude(), Buffer.from([9, 0, 0, 0, 0x42, 0x61, 0, 0, 0])], /^namespace header at offset \d+ is not a valid BSON document: unknown element type 0x42/],
    ];
    for (const [parts, message] of cases) expect((await corruption(Buffer.concat(parts))).message).toMatch(message);
  });

  it('time series: the prelude names the view, the data comes as system.buckets.<name>', async () => {
    const buf = archiveBuffer([{ db: 'iot', collection: 'system.buckets.temps', docs: docs(3, 'b') }], {
      prelude: [{ db: 'iot', collection: 'temps', type: 'timeseries' }],
    });
    expect((await parse(buf, false)).collections).toEqual({ 'iot.system.buckets.temps': 3 });
  });

  it('after an error, push and end keep throwing it', async () => {
    const parser = new MongoArchiveParser({ gzip: false });
    expect(() => parser.push(Buffer.from('nope'))).toThrow(ArchiveCorrupt);
    expect(() => parser.push(plain)).toThrow(/^bad magic/);
    await expect(parser.end()).rejects.toThrow(/^bad magic/);
  });
});
