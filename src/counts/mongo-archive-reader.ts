// A streaming check of a mongodump archive (`mongodump --archive [--gzip]`): is it whole, are its checksums right,
// and how many documents does each namespace hold. The rules are mongo-tools' own (common/archive: archive.go,
// parser.go, prelude.go, multiplexer.go, demultiplexer.go; mongodump/mongodump.go and mongorestore getArchiveReader):
//
//   magic       0x8199e26d, little-endian (6d e2 99 81)
//   prelude     one block: a header document {concurrent_collections, version: "0.1", server_version, tool_version},
//               then one {db, collection, metadata (extended JSON), size, type} per namespace mongodump meant to
//               write, then the terminator ff ff ff ff
//   blocks      to the end of the stream: a namespace header {db, collection, EOF: false, CRC: 0}, that namespace's
//               documents (0 or more), a terminator. Namespaces dumped in parallel interleave: one namespace's
//               documents can be spread over many blocks.
//   EOF block   {db, collection, EOF: true, CRC}, a terminator, once per namespace after its last document. CRC is
//               int64(Sum64) of Go's hash/crc64 with the ECMA table (CRC-64/XZ) over all of the namespace's
//               documents, exactly as stored (uncompressed), headers and terminators not included. 0 for none.
//   --gzip      the whole archive, magic included, is one gzip stream (mongodump wraps its output in
//               gzip.NewWriter, mongorestore in gzip.NewReader): unlike directory dumps, nothing inside is compressed.
//
// Documents are 5 bytes to 16 MiB (db.MaxBSONSize) and end in a 0 byte; a length of ff ff ff ff is the terminator.
// A stream may end only between blocks, with every namespace opened also closed by its EOF block, and every
// namespace of the prelude seen (mongorestore's demultiplexer: "archive finished before all collections were
// seen"). Every block's namespace must be one of the prelude's (mongorestore: "no intent for collection in
// archive"). A `type: "timeseries"` entry's data comes as `<db>.system.buckets.<name>` from servers before 8.3, as
// `<db>.<name>` from 8.3 on (the header's server_version says which; common/archive CreateDemux).
//
// Beyond the framing, what mongorestore refuses before it restores anything (and so does this check):
//   - a header whose server_version is not x.y.z (PreludeExplorer.ReadDir, mongo-tools 100.16 on);
//   - a collection's metadata that is not JSON: mongorestore parses every collection's metadata (bson.UnmarshalExtJSON
//     into its Metadata struct, mongorestore/metadata.go) and stops at the first it cannot. mongodump 4.2.2 wrote
//     such metadata when an index key held a quote (mongo-tools' testdata/bad-format.archive). Checked here: JSON
//     syntax, with Go's scanner's leniency (raw control characters inside strings), and an object at the top. Not
//     parsed by mongorestore, so not checked: empty metadata, the oplog's (db ""), system.profile's;
//   - a namespace header with fields other than db, collection, EOF and CRC, or a CRC that is not an int64
//     (NamespaceHeader.UnmarshalBSON, mongo-tools 100.14 on). mongodump writes exactly those, the CRC as int64.
//
// Namespaces are reported as mongo-tools names them, `db + "." + collection`, whatever they are: `shop.orders`, a view
// (always 0 documents: its definition is in the prelude), `admin.system.users` / `admin.system.roles` /
// `admin.system.version` (users, roles and the auth schema, in full dumps), `<db>.system.buckets.<ts>` (time
// series before 8.3), `.oplog` (--oplog: db "" and collection "oplog"). A collection without documents counts 0.
//
// Document contents are not decoded (neither does mongorestore before it sends them to the server): a changed byte
// shows as a CRC mismatch. Only the small structural documents (prelude, namespace headers) are parsed, and only they
// are buffered; documents are hashed as they stream past, so memory stays at one header document plus a few bytes.
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { errorText } from '../errors.js';

/** The archive is not a complete, valid mongodump archive; the message says what and where (offsets in the plain archive). */
export class ArchiveCorrupt extends Error {
  override name = 'ArchiveCorrupt';
}

export interface ArchiveSummary {
  /** "db.collection" → documents, in the order the namespaces first appear. */
  collections: Record<string, number>;
  /** Size of the archive itself: after gunzip, with --gzip. */
  bytes: number;
}

// ---- CRC-64, Go's hash/crc64 with crc64.MakeTable(crc64.ECMA) --------------------------------------------------------
// Reflected polynomial 0xC96C5795D7870F42, register inverted before and after each update (CRC-64/XZ;
// "123456789" → 0x995dc9bbdf1939fa). Slicing-by-8 like Go's own for long inputs; the 64-bit register is two int32
// halves so V8 keeps everything in small integers.

const T_LO = new Int32Array(8 * 256);
const T_HI = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi >>>= 1;
    if (carry) {
      lo ^= 0xd7870f42;
      hi ^= 0xc96c5795;
    }
  }
  T_LO[i] = lo;
  T_HI[i] = hi;
}
for (let k = 1; k < 8; k++) {
  for (let i = 0; i < 256; i++) {
    const lo = T_LO[(k - 1) * 256 + i]!;
    const hi = T_HI[(k - 1) * 256 + i]!;
    const idx = lo & 0xff;
    T_LO[k * 256 + i] = ((lo >>> 8) | (hi << 24)) ^ T_LO[idx]!;
    T_HI[k * 256 + i] = (hi >>> 8) ^ T_HI[idx]!;
  }
}

/** A running CRC-64 register (already inverted, as inside Go's update). */
interface Crc {
  lo: number;
  hi: number;
}

function crcUpdate(crc: Crc, buf: Uint8Array, start: number, end: number): void {
  let lo = crc.lo;
  let hi = crc.hi;
  let i = start;
  for (; end - i >= 8; i += 8) {
    lo ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    hi ^= buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
    const a = 1792 + (lo & 0xff);
    const b = 1536 + ((lo >>> 8) & 0xff);
    const c = 1280 + ((lo >>> 16) & 0xff);
    const d = 1024 + (lo >>> 24);
    const e = 768 + (hi & 0xff);
    const f = 512 + ((hi >>> 8) & 0xff);
    const g = 256 + ((hi >>> 16) & 0xff);
    const h = hi >>> 24;
    lo = T_LO[a]! ^ T_LO[b]! ^ T_LO[c]! ^ T_LO[d]! ^ T_LO[e]! ^ T_LO[f]! ^ T_LO[g]! ^ T_LO[h]!;
    hi = T_HI[a]! ^ T_HI[b]! ^ T_HI[c]! ^ T_HI[d]! ^ T_HI[e]! ^ T_HI[f]! ^ T_HI[g]! ^ T_HI[h]!;
  }
  for (; i < end; i++) {
    const idx = (lo ^ buf[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ T_LO[idx]!;
    hi = (hi >>> 8) ^ T_HI[idx]!;
  }
  crc.lo = lo;
  crc.hi = hi;
}

/** Sum64 of a register, as the signed int64 the EOF header stores. */
function crcValue(crc: Crc): bigint {
  return BigInt.asIntN(64, (BigInt(~crc.hi >>> 0) << 32n) | BigInt(~crc.lo >>> 0));
}

/** crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), unsigned. */
export function crc64Ecma(data: Uint8Array): bigint {
  const crc = { lo: -1, hi: -1 };
  crcUpdate(crc, data, 0, data.length);
  return BigInt.asUintN(64, crcValue(crc));
}

// ---- the few BSON fields the structure needs ---------------------------------------------------------------------------

type Field = string | number | bigint | boolean | null | { type: number };

/** The top-level fields of a BSON document (strings, int32, int64, double, bool, null; anything else by type only). */
function readFields(doc: Buffer): Map<string, Field> {
  const fields = new Map<string, Field>();
  const end = doc.length - 1; // the trailing 0
  let i = 4;
  const need = (n: number) => {
    if (i + n > end) throw new Error(`element runs past the end of the document at byte ${i}`);
  };
  const int32 = () => {
    need(4);
    const v = doc.readInt32LE(i);
    i += 4;
    return v;
  };
  const cstring = () => {
    const zero = doc.indexOf(0, i);
    if (zero < 0 || zero >= end) throw new Error(`unterminated name at byte ${i}`);
    const s = doc.toString('utf8', i, zero);
    i = zero + 1;
    return s;
  };
  const string = () => {
    const len = int32();
    if (len < 1) throw new Error(`string length ${len} at byte ${i - 4}`);
    need(len);
    if (doc[i + len - 1] !== 0) throw new Error(`string at byte ${i - 4} does not end with a 0 byte`);
    const s = doc.toString('utf8', i, i + len - 1);
    i += len;
    return s;
  };
  const skip = (n: number) => {
    need(n);
    i += n;
  };
  while (i < end) {
    const type = doc[i++]!;
    const name = cstring();
    let value: Field;
    switch (type) {
      case 0x01: need(8); value = doc.readDoubleLE(i); i += 8; break;
      case 0x02: value = string(); break;
      case 0x08: need(1); value = doc[i++] !== 0; break;
      case 0x0a: value = null; break;
      case 0x10: value = int32(); break;
      case 0x12: need(8); value = doc.readBigInt64LE(i); i += 8; break;
      case 0x03: case 0x04: case 0x0f: { const len = int32(); if (len < 5) throw new Error(`length ${len} at byte ${i - 4}`); skip(len - 4); value = { type }; break; }
      case 0x05: { const len = int32(); if (len < 0) throw new Error(`binary length ${len}`); skip(len + 1); value = { type }; break; }
      case 0x06: case 0x7f: case 0xff: value = { type }; break;
      case 0x07: skip(12); value = { type }; break;
      case 0x09: case 0x11: skip(8); value = { type }; break;
      case 0x0b: cstring(); cstring(); value = { type }; break;
      case 0x0c: string(); skip(12); value = { type }; break;
      case 0x0d: case 0x0e: string(); value = { type }; break;
      case 0x13: skip(16); value = { type }; break;
      default: throw new Error(`unknown element type 0x${type.toString(16)} for '${name}'`);
    }
    fields.set(name, value);
  }
  return fields;
}

// ---- the archive -------------------------------------------------------------------------------------------------------

const MAGIC = 0x8199e26d;
const TERMINATOR = -1; // ff ff ff ff as int32
const MIN_BSON = 5;
const MAX_BSON = 16 * 1024 * 1024; // db.MaxBSONSize
const GUNZIP_CHUNK = 256 * 1024; // zlib's output pieces (default 16 KiB: measurably slower, more callbacks)

const enum Read { Magic, Length, Header, Document }
const enum Section { PreludeHeader, PreludeBody, BlockStart, BlockBody, AfterEof }

interface Namespace {
  crc: Crc;
  documents: number;
  closed: boolean;
}

/** The plain (uncompressed) archive, parsed synchronously as its bytes arrive. */
class PlainArchive {
  private read = Read.Magic;
  private section = Section.PreludeHeader;
  private offset = 0; // bytes of the archive consumed so far
  private small = Buffer.alloc(4); // the magic or a length, gathered across chunks
  private smallHave = 0;
  private itemStart = 0; // offset of the length (or terminator) being read, or of the document being read
  private header: Buffer | undefined; // a structural document being gathered
  private headerHave = 0;
  private docLeft = 0; // bytes of the current document still to come
  private docSize = 0;
  private blockStart = 0;
  private current: { name: string; ns: Namespace } | undefined; // the namespace of the open block
  private readonly namespaces = new Map<string, Namespace>();
  private readonly expected = new Map<string, number>(); // the namespaces the prelude announces → offset of its entry
  private timeseriesAsBuckets = true; // a source server before 8.3: time series data under system.buckets.<name>
  private failure: ArchiveCorrupt | undefined;

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err instanceof ArchiveCorrupt ? err : new ArchiveCorrupt(`archive check failed: ${errorText(err)}`);
      throw this.failure;
    }
  }

  end(): ArchiveSummary {
    if (this.failure) throw this.failure;
    this.failure = this.incompleteness();
    if (this.failure) throw this.failure;
    const collections: Record<string, number> = {};
    for (const [name, ns] of this.namespaces) collections[name] = ns.documents;
    return { collections, bytes: this.offset };
  }

  private corrupt(message: string): ArchiveCorrupt {
    return new ArchiveCorrupt(message);
  }

  /** Why the archive cannot end here, if it cannot. */
  private incompleteness(): ArchiveCorrupt | undefined {
    const at = this.offset;
    if (this.read === Read.Magic) {
      return this.corrupt(at === 0 ? 'archive is empty' : `archive is truncated: ${at} bytes, not even the 4-byte magic number`);
    }
    if (this.section === Section.PreludeHeader || this.section === Section.PreludeBody) {
      return this.corrupt(`archive is truncated in the prelude (the list of collections) at offset ${at}`);
    }
    if (this.read === Read.Length && this.smallHave > 0) {
      return this.corrupt(`archive is truncated at offset ${at}: ${this.smallHave} of the 4 bytes of a length at offset ${this.itemStart}`);
    }
    if (this.read === Read.Header) {
      return this.corrupt(`archive is truncated at offset ${at}: the namespace header at offset ${this.itemStart} has ${this.headerHave} of its ${this.header!.length} bytes`);
    }
    if (this.read === Read.Document) {
      return this.corrupt(`archive is truncated at offset ${at}: document at offset ${this.itemStart} of ${this.current!.name} has ${this.docSize - this.docLeft} of its ${this.docSize} bytes`);
    }
    if (this.section === Section.BlockBody) {
      return this.corrupt(`archive is truncated at offset ${at}: the block of ${this.current!.name} starting at offset ${this.blockStart} has no terminator`);
    }
    if (this.section === Section.AfterEof) {
      return this.corrupt(`archive is truncated at offset ${at}: the EOF block of ${this.current!.name} at offset ${this.blockStart} has no terminator`);
    }
    for (const [name, ns] of this.namespaces) {
      if (!ns.closed) return this.corrupt(`archive is truncated: namespace ${name} has no EOF block`);
    }
    for (const [name, at] of this.expected) {
      if (!this.namespaces.has(name)) {
        return this.corrupt(`archive is truncated: namespace ${name} (listed in the prelude at offset ${at}) never appears`);
      }
    }
    return undefined;
  }

  private consume(buf: Uint8Array): void {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      switch (this.read) {
        case Read.Magic:
        case Read.Length: {
          const take = Math.min(4 - this.smallHave, n - i);
          for (let k = 0; k < take; k++) this.small[this.smallHave + k] = buf[i + k]!;
          this.smallHave += take;
          i += take;
          this.offset += take;
          if (this.smallHave < 4) break;
          this.smallHave = 0;
          if (this.read === Read.Magic) {
            if (this.small.readUInt32LE(0) !== MAGIC) {
              throw this.corrupt(`bad magic: the archive starts with ${this.small.toString('hex')}, not 6de29981 (0x8199e26d): this is not a mongodump archive${this.small[0] === 0x1f && this.small[1] === 0x8b ? ' (it is gzip: was --gzip forgotten?)' : ''}`);
            }
            this.read = Read.Length;
            this.itemStart = this.offset;
            break;
          }
          this.lengthRead(this.small.readInt32LE(0));
          break;
        }
        case Read.Header: {
          const header = this.header!;
          const take = Math.min(header.length - this.headerHave, n - i);
          header.set(buf.subarray(i, i + take), this.headerHave);
          this.headerHave += take;
          i += take;
          this.offset += take;
          if (this.headerHave === header.length) this.headerRead(header);
          break;
        }
        case Read.Document: {
          const take = Math.min(this.docLeft, n - i);
          crcUpdate(this.current!.ns.crc, buf, i, i + take);
          i += take;
          this.offset += take;
          this.docLeft -= take;
          if (this.docLeft === 0) {
            if (buf[i - 1] !== 0) {
              throw this.corrupt(`BSON document at offset ${this.itemStart} of ${this.current!.name} (${this.docSize} bytes) does not end with a 0 byte`);
            }
            this.current!.ns.documents++;
            this.read = Read.Length;
            this.itemStart = this.offset;
          }
          break;
        }
      }
    }
  }

  private lengthRead(length: number): void {
    const at = this.offset - 4;
    if (length === TERMINATOR) {
      switch (this.section) {
        case Section.PreludeHeader:
          throw this.corrupt(`archive has no header document: a terminator at offset ${at}`);
        case Section.PreludeBody:
          this.section = Section.BlockStart;
          break;
        case Section.BlockStart:
          throw this.corrupt(`a terminator at offset ${at} where a namespace header should be (consecutive terminators / headerless block)`);
        case Section.BlockBody:
        case Section.AfterEof:
          this.section = Section.BlockStart;
          this.current = undefined;
          break;
      }
      this.itemStart = this.offset;
      return;
    }
    if (length < MIN_BSON || length > MAX_BSON) {
      throw this.corrupt(`BSON document length ${length} at offset ${at} is invalid (neither 5 to 16 MiB nor a terminator)`);
    }
    if (this.section === Section.AfterEof) {
      throw this.corrupt(`document at offset ${at} follows the EOF block of ${this.current!.name} (a terminator should)`);
    }
    this.itemStart = at;
    if (this.section === Section.BlockBody) {
      this.read = Read.Document;
      this.docSize = length;
      this.docLeft = length - 4;
      crcUpdate(this.current!.ns.crc, this.small, 0, 4);
      return;
    }
    this.read = Read.Header;
    this.header = Buffer.allocUnsafe(length);
    this.small.copy(this.header, 0, 0, 4);
    this.headerHave = 4;
  }

  private headerRead(doc: Buffer): void {
    const at = this.itemStart;
    this.read = Read.Length;
    this.header = undefined;
    this.itemStart = this.offset;
    const what = this.section === Section.PreludeHeader ? 'archive header' : this.section === Section.PreludeBody ? 'prelude entry' : 'namespace header';
    if (doc[doc.length - 1] !== 0) throw this.corrupt(`BSON document at offset ${at} (${what}, ${doc.length} bytes) does not end with a 0 byte`);
    let fields: Map<string, Field>;
    try {
      fields = readFields(doc);
    } catch (err) {
      throw this.corrupt(`${what} at offset ${at} is not a valid BSON document: ${errorText(err)}`);
    }
    const str = (name: string, required: boolean): string => {
      const v = fields.get(name);
      if (v === undefined && !required) return '';
      if (typeof v !== 'string') throw this.corrupt(`${what} at offset ${at} has no string '${name}'`);
      return v;
    };

    if (this.section === Section.PreludeHeader) {
      str('version', true);
      const serverVersion = str('server_version', false);
      const version = parseServerVersion(serverVersion);
      if (!version) {
        throw this.corrupt(`archive header at offset ${at} has server_version '${serverVersion}', not a version x.y.z (mongorestore 100.16 and later refuse such an archive)`);
      }
      this.timeseriesAsBuckets = version[0] < 8 || (version[0] === 8 && version[1] < 3);
      this.section = Section.PreludeBody;
      return;
    }
    if (this.section === Section.PreludeBody) {
      const db = str('db', false);
      const collection = str('collection', true);
      const metadata = str('metadata', false);
      const timeseries = str('type', false) === 'timeseries';
      if (metadata !== '' && db !== '' && collection !== 'system.profile') {
        const problem = metadataProblem(metadata);
        if (problem) throw this.corrupt(`the metadata of ${db}.${collection} (prelude entry at offset ${at}) is ${problem}, so mongorestore would refuse the archive`);
      }
      this.expected.set(timeseries && this.timeseriesAsBuckets ? `${db}.system.buckets.${collection}` : `${db}.${collection}`, at);
      return;
    }

    // A namespace header (Section.BlockStart); demultiplexer.go HeaderBSON, archive.go NamespaceHeader.UnmarshalBSON.
    for (const key of fields.keys()) {
      if (!NAMESPACE_HEADER_FIELDS.has(key)) throw this.corrupt(`namespace header at offset ${at} has an unknown field '${key}'`);
    }
    const collection = str('collection', false);
    if (collection === '') throw this.corrupt(`namespace header at offset ${at} has no collection`);
    const name = `${str('db', false)}.${collection}`;
    const eof = fields.get('EOF') ?? false;
    if (typeof eof !== 'boolean') throw this.corrupt(`namespace header of ${name} at offset ${at} has a non-boolean EOF`);
    if (!this.expected.has(name)) {
      throw this.corrupt(`namespace ${name} at offset ${at} is not listed in the archive's prelude (mongorestore has nothing to restore it into)`);
    }
    let ns = this.namespaces.get(name);
    if (ns?.closed) throw this.corrupt(`namespace ${name} appears again at offset ${at}, after its EOF block`);
    if (!ns) {
      ns = { crc: { lo: -1, hi: -1 }, documents: 0, closed: false };
      this.namespaces.set(name, ns);
    }
    this.current = { name, ns };
    this.blockStart = at;
    if (!eof) {
      this.section = Section.BlockBody;
      return;
    }
    const stated = fields.get('CRC') ?? 0n;
    if (typeof stated !== 'bigint') throw this.corrupt(`EOF block of ${name} at offset ${at} has a CRC that is not an int64`);
    const actual = crcValue(ns.crc);
    if (stated !== actual) {
      throw this.corrupt(`CRC mismatch for ${name}: its EOF block at offset ${at} says ${stated}, its ${ns.documents} documents hash to ${actual}`);
    }
    ns.closed = true;
    this.section = Section.AfterEof;
  }
}

const NAMESPACE_HEADER_FIELDS = new Set(['db', 'collection', 'EOF', 'CRC']);

/** mongo-tools' db.StrToVersion: major.minor.patch, anything after a '-' or '+' ignored; undefined when not that. */
function parseServerVersion(version: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version.split(/[-+]/, 1)[0]!);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * Why mongorestore could not read a collection's metadata, or undefined when it can. Go's JSON scanner takes raw
 * control characters inside strings, which JSON.parse refuses: they are read as a letter (a string stays a string, and
 * outside one it is an error both ways), tab, newline and return as a space (whitespace outside strings).
 */
function metadataProblem(metadata: string): string | undefined {
  const asGoReadsIt = metadata.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f]/g, 'x');
  let value: unknown;
  try {
    value = JSON.parse(asGoReadsIt);
  } catch (err) {
    return `not valid JSON (${errorText(err)})`;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'JSON but not an object';
}

/**
 * Checks an archive as its bytes go past: push() every chunk in order, then end(). With `gzip` (mongodump --gzip) the
 * bytes are gunzipped first, by zlib in the libuv thread pool; corruption found there is thrown by a later push() or
 * by end(). Without it, push() throws at the first bad byte.
 */
export class MongoArchiveParser {
  private readonly plain = new PlainArchive();
  private readonly gunzip: Gunzip | undefined;
  private readonly done: Promise<void> | undefined;
  private failure: ArchiveCorrupt | undefined;
  private input = 0;

  constructor(opts: { gzip: boolean }) {
    if (!opts.gzip) return;
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    this.gunzip = gunzip;
    gunzip.on('data', (out: Buffer) => {
      try {
        this.plain.push(out);
      } catch (err) {
        this.failure = err as ArchiveCorrupt;
        gunzip.destroy();
      }
    });
    this.done = new Promise<void>((resolve) => {
      gunzip.on('end', resolve);
      gunzip.on('close', resolve);
      gunzip.on('error', (err) => {
        this.failure ??= gzipFailure(err);
        resolve();
      });
    });
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.gunzip) {
      this.input += chunk.length;
      this.gunzip.write(chunk);
    } else this.plain.push(chunk);
  }

  /**
   * With gzip: a promise when gunzip has more queued than its buffer holds (wait for it before the next push), so a
   * slow gunzip never makes the archive pile up in memory; undefined otherwise.
   */
  backlog(): Promise<void> | undefined {
    const gunzip = this.gunzip;
    if (!gunzip || !gunzip.writableNeedDrain || gunzip.destroyed) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        gunzip.off('drain', done);
        gunzip.off('close', done);
        resolve();
      };
      gunzip.on('drain', done);
      gunzip.on('close', done);
    });
  }

  /** The summary, once the stream is known to be complete and valid; else rejects with ArchiveCorrupt. */
  async end(): Promise<ArchiveSummary> {
    if (this.gunzip) {
      if (!this.gunzip.destroyed) this.gunzip.end();
      await this.done;
      this.failure ??= trailingBytes(this.gunzip, this.input);
    }
    if (this.failure) throw this.failure;
    return this.plain.end();
  }
}

/** zlib stops quietly at zero padding after the gzip stream; Go's gzip.Reader (mongorestore) rejects any. */
function trailingBytes(gunzip: Gunzip, input: number): ArchiveCorrupt | undefined {
  const extra = input - gunzip.bytesWritten;
  return extra > 0 ? new ArchiveCorrupt(`archive has ${extra} bytes after the end of its gzip stream`) : undefined;
}

function gzipFailure(err: Error): ArchiveCorrupt {
  const code = (err as { code?: string }).code;
  if (code === 'Z_BUF_ERROR') return new ArchiveCorrupt(`archive is truncated: the gzip stream ends early (${err.message})`);
  return new ArchiveCorrupt(`archive is not valid gzip: ${err.message}`);
}

/** Reads a whole archive (with backpressure) and returns its summary, or rejects with ArchiveCorrupt. */
export async function summarizeArchive(stream: AsyncIterable<Buffer>, opts: { gzip: boolean }): Promise<ArchiveSummary> {
  const plain = new PlainArchive();
  if (!opts.gzip) {
    for await (const chunk of stream) plain.push(chunk);
    return plain.end();
  }
  let failure: unknown;
  let input = 0;
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
  try {
    const counted = async function* () {
      for await (const chunk of stream) {
        input += chunk.length;
        yield chunk;
      }
    };
    await pipeline(counted, gunzip, async (source: AsyncIterable<Buffer>) => {
      try {
        for await (const chunk of source) plain.push(chunk);
      } catch (err) {
        failure = err; // pipeline may report its own abort instead
        throw err;
      }
    });
  } catch (err) {
    if (failure instanceof ArchiveCorrupt) throw failure;
    if ((err as { code?: string }).code?.startsWith('Z_')) throw gzipFailure(err as Error);
    throw err;
  }
  const trailing = trailingBytes(gunzip, input);
  if (trailing) throw trailing;
  return plain.end();
}
