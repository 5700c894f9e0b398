// The mongodump archive check (src/counts/mongo-archive-reader.ts) against archives written the way mongodump writes them
// (test/fixtures/mongo-archive-writer.mjs), cut, bent and fed a byte at a time. The stand-in mongodump's archives, as
// a child process writes them: test/engine-commands.test.ts.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ArchiveCorrupt, MongoArchiveParser, crc64Ecma, summarizeArchive, type ArchiveSummary } from '../../src/counts/mongo-archive-reader.js';
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
      [[...prelude('d.c'), header('d', 'c', true), doc, TERMINATOR], /^document at offset \d+ follows the EOF block of d\.c/],
      [[...prelude('d.c'), header('d', 'c', true), TERMINATOR, header('d', 'c', false), TERMINATOR], /^namespace d\.c appears again at offset \d+, after its EOF block$/],
      [[...prelude(), encodeBson({ db: 'd', EOF: false }), TERMINATOR], /^namespace header at offset \d+ has no collection$/],
      [[...prelude('d.c'), header('d', 'c', false), Buffer.from([6, 0, 0, 0, 1, 1])], /^BSON document at offset \d+ of d\.c \(6 bytes\) does not end with a 0 byte$/],
      [[...prelude('d.c'), header('d', 'c', false), TERMINATOR, header('d', 'c', true, 5n), TERMINATOR], /^CRC mismatch for d\.c: its EOF block at offset \d+ says 5, its 0 documents hash to 0$/],
      [[ARCHIVE_MAGIC, encodeBson({ version: 1 }), TERMINATOR], /^archive header at offset 4 has no string 'version'$/],
      [[...prelude(), Buffer.from([9, 0, 0, 0, 0x42, 0x61, 0, 0, 0])], /^namespace header at offset \d+ is not a valid BSON document: unknown element type 0x42/],
      // What mongorestore refuses beyond the framing (demultiplexer.go, archive.go, prelude.go).
      [[...prelude('d.c'), header('d', 'x', false), TERMINATOR], /^namespace d\.x at offset \d+ is not listed in the archive's prelude \(mongorestore has nothing to restore it into\)$/],
      [[...prelude('d.c'), encodeBson({ db: 'd', collection: 'c', EOF: false, CRC: 0n, size: 1 }), TERMINATOR], /^namespace header at offset \d+ has an unknown field 'size'$/],
      [[...prelude('d.c'), header('d', 'c', false), TERMINATOR, encodeBson({ db: 'd', collection: 'c', EOF: true, CRC: 0 }), TERMINATOR], /^EOF block of d\.c at offset \d+ has a CRC that is not an int64$/],
      [[ARCHIVE_MAGIC, encodeBson({ concurrent_collections: 4, version: '0.1', server_version: 'unknown', tool_version: '100.10.0' }), TERMINATOR], /^archive header at offset 4 has server_version 'unknown', not a version x\.y\.z/],
    ];
    for (const [parts, message] of cases) expect((await corruption(Buffer.concat(parts))).message).toMatch(message);
  });

  it('time series: the prelude names the collection, the data comes as system.buckets.<name> before 8.3, as <name> since', async () => {
    const archive = (collection: string, serverVersion: string) =>
      archiveBuffer([{ db: 'iot', collection, docs: docs(3, 'b') }], { prelude: [{ db: 'iot', collection: 'temps', type: 'timeseries' }], serverVersion });
    expect((await parse(archive('system.buckets.temps', '7.0.14'), false)).collections).toEqual({ 'iot.system.buckets.temps': 3 });
    expect((await parse(archive('system.buckets.temps', '8.2.9-rc1'), false)).collections).toEqual({ 'iot.system.buckets.temps': 3 });
    expect((await parse(archive('temps', '8.3.0'), false)).collections).toEqual({ 'iot.temps': 3 });
    // Where the server version says the data is not, mongorestore's demultiplexer waits for it in vain.
    expect((await corruption(archive('temps', '7.0.14'))).message).toMatch(/^namespace iot\.temps at offset \d+ is not listed in the archive's prelude/);
    expect((await corruption(archive('system.buckets.temps', '8.3.0'))).message).toMatch(/^namespace iot\.system\.buckets\.temps at offset \d+ is not listed/);
    const noData = archiveBuffer([], { prelude: [{ db: 'iot', collection: 'temps', type: 'timeseries' }] });
    expect((await corruption(noData)).message).toMatch(/^archive is truncated: namespace iot\.system\.buckets\.temps \(listed in the prelude at offset \d+\) never appears$/);
  });

  it('a view: in the prelude, and an empty collection in the blocks (mongorestore creates the view from it)', async () => {
    const view = { db: 'shop', collection: 'big_orders', type: 'view' as const };
    expect((await parse(archiveBuffer([{ ...view, docs: [] }]), false)).collections).toEqual({ 'shop.big_orders': 0 });
    expect((await corruption(archiveBuffer([], { prelude: [view] }))).message).toMatch(/^archive is truncated: namespace shop\.big_orders \(listed in the prelude/);
  });

  describe("a collection's metadata: mongorestore parses it before restoring anything and stops at the first it cannot", () => {
    const withMetadata = (metadata: string, ns: { db: string; collection: string } = { db: 'shop', collection: 'orders' }) =>
      archiveBuffer([{ ...ns, docs: docs(2, 'o'), metadata }]);

    it('refuses metadata that is not JSON, naming the namespace', async () => {
      // mongodump 4.2.2 wrote index keys with quotes unescaped.
      const bad = withMetadata('{"indexes":[{"v":2,"key":{"{"a":"b"}":1},"name":"quoted_idx"}],"uuid":"0011"}');
      expect((await corruption(bad)).message).toMatch(
        /^the metadata of shop\.orders \(prelude entry at offset \d+\) is not valid JSON \(.+\), so mongorestore would refuse the archive$/,
      );
      expect((await corruption(gzipSync(bad), true)).message).toMatch(/^the metadata of shop\.orders /);
      expect((await corruption(withMetadata('{"indexes":[]'))).message).toMatch(/^the metadata of shop\.orders .* is not valid JSON/);
      expect((await corruption(withMetadata('[{"indexes":[]}]'))).message).toMatch(/^the metadata of shop\.orders .* is JSON but not an object/);
    });

    it('takes what Go reads: raw control characters inside strings; empty metadata; metadata mongorestore never reads', async () => {
      expect((await parse(withMetadata('{"indexes":[{"key":{"a\tb\nc\u0001":1},"name":"ctl"}]}'), false)).collections).toEqual({ 'shop.orders': 2 });
      expect((await parse(withMetadata(''), false)).collections).toEqual({ 'shop.orders': 2 });
      expect((await parse(withMetadata('not json', { db: 'shop', collection: 'system.profile' }), false)).collections).toEqual({ 'shop.system.profile': 2 });
      expect((await parse(withMetadata('not json', { db: '', collection: 'oplog' }), false)).collections).toEqual({ '.oplog': 2 });
    });
  });

  it('after an error, push and end keep throwing it', async () => {
    const parser = new MongoArchiveParser({ gzip: false });
    expect(() => parser.push(Buffer.from('nope'))).toThrow(ArchiveCorrupt);
    expect(() => parser.push(plain)).toThrow(/^bad magic/);
    await expect(parser.end()).rejects.toThrow(/^bad magic/);
  });
});

// Archives real mongodump runs wrote (mongo-tools' own test data; see the folder's README): the oracle the project's
// writer is not. Counts exactly as the README lists them; refused where mongorestore refuses.
describe('real mongodump archives (test/fixtures/mongodump-archives)', () => {
  const real = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/mongodump-archives/${name}`, import.meta.url)));
  const REAL: [string, Record<string, number>][] = [
    ['test.bar.archive', { 'admin.system.version': 1, 'test.bar': 1 }],
    // The oplog: db "" and collection "oplog", so ".oplog" as mongo-tools names it.
    ['dump-w-oplog.archive', { 'admin.system.version': 1, 'test.foo': 25, '.oplog': 18 }],
    ['timeseries_tests_dump.archive', { 'admin.system.version': 1, 'admin.system.views': 0, 'timeseries_test.system.buckets.foo_ts': 10 }],
  ];

  it.each(REAL)('%s: documents per namespace as its README lists them, whole, a byte at a time, and gzipped', async (name, counts) => {
    const archive = real(name);
    const summary = await parse(archive, false);
    expect(summary).toEqual({ collections: counts, bytes: archive.length });
    expect(await parse(archive, false, 1)).toEqual(summary);
    expect(await parse(gzipSync(archive), true)).toEqual(summary);
    expect(await summarizeArchive(Readable.from([archive]), { gzip: false })).toEqual(summary);
  });

  it('test.bar.archive cut to every length from 0 to its size - 1 is refused', async () => {
    const archive = real('test.bar.archive');
    expect(archive.length).toBe(896);
    for (let length = 0; length < archive.length; length++) {
      expect((await corruption(archive.subarray(0, length))).message, `cut to ${length} bytes`).toMatch(/^archive is (empty|truncated)/);
    }
  });

  it('dump-w-oplog.archive cut to every length is refused; timeseries_tests_dump.archive cut every 61 bytes and around its ends', async () => {
    const oplog = real('dump-w-oplog.archive');
    for (let length = 0; length < oplog.length; length++) await corruption(oplog.subarray(0, length));
    const ts = real('timeseries_tests_dump.archive');
    const lengths = new Set<number>();
    for (let length = 0; length < ts.length; length += 61) lengths.add(length);
    for (let length = 0; length < 1700; length++) lengths.add(length); // the prelude and the small blocks
    for (let length = ts.length - 200; length < ts.length; length++) lengths.add(length); // the last terminator and EOF block
    for (const length of lengths) await corruption(ts.subarray(0, length));
  });

  it("bad-format.archive (mongodump 4.2.2 wrote an index key's quotes unescaped): refused, naming the collection", async () => {
    const err = await corruption(real('bad-format.archive'));
    expect(err.message).toMatch(/^the metadata of test\.ixtest \(prelude entry at offset 106\) is not valid JSON \(.+\), so mongorestore would refuse the archive$/);
  });

  /** `archive` with the prelude string `from` (a collection's whole metadata) replaced by `to`, lengths fixed up. */
  function replaceMetadata(archive: Buffer, from: string, to: string): Buffer {
    const at = archive.indexOf(Buffer.from(from));
    expect(at).toBeGreaterThan(0);
    expect(archive.readInt32LE(at - 4)).toBe(Buffer.byteLength(from) + 1); // a whole BSON string
    let entry = 4; // the prelude's documents, from its header on, up to the one holding the string
    while (entry + archive.readInt32LE(entry) <= at) entry += archive.readInt32LE(entry);
    const end = entry + archive.readInt32LE(entry);
    const value = Buffer.from(`${to}\0`);
    const length = Buffer.alloc(4);
    length.writeInt32LE(value.length);
    const doc = Buffer.concat([archive.subarray(entry, at - 4), length, value, archive.subarray(at + Buffer.byteLength(from) + 1, end)]);
    doc.writeInt32LE(doc.length, 0);
    return Buffer.concat([archive.subarray(0, entry), doc, archive.subarray(end)]);
  }

  it('test.bar.archive with its metadata edited as mongodump 4.2.2 wrote it: refused, naming test.bar; escaped properly: fine', async () => {
    const archive = real('test.bar.archive');
    const metadata = '{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"test.bar"}]}';
    const quotedIndex = (key: string) => metadata.replace(']}', `,{"v":2,"key":{"${key}":1},"name":"quoted_idx","ns":"test.bar"}]}`);
    const broken = replaceMetadata(archive, metadata, quotedIndex('{"a":"b"}'));
    expect((await corruption(broken)).message).toMatch(/^the metadata of test\.bar \(prelude entry at offset 105\) is not valid JSON \(.+\), so mongorestore would refuse the archive$/);
    expect((await corruption(gzipSync(broken), true)).message).toMatch(/^the metadata of test\.bar /);
    const escaped = replaceMetadata(archive, metadata, quotedIndex('{\\"a\\":\\"b\\"}'));
    expect(escaped.length).toBe(broken.length + 4);
    expect((await parse(escaped, false)).collections).toEqual({ 'admin.system.version': 1, 'test.bar': 1 });
  });
});
