// Rows per table, counted in the mariadb-dump output itself as it streams past: InnoDB cannot share the dump's
// snapshot with another connection, so the only exact count of what the backup holds is the dump's own INSERTs.
//
// What it reads (mariadb-dump's format, with --extended-insert as --opt gives): `USE \`db\`;` starts a database;
// `-- Dumping data for table \`t\`` announces a table (so an empty one counts 0); an
// `INSERT INTO \`t\` [(cols)] VALUES (...),(...);` statement starts at a line start and ends at the first ';' outside
// quoted strings; its rows are the parenthesised tuples (10.x puts each on a line of its own, older versions all on
// one). Inside strings mariadb-dump escapes quotes and newlines with a backslash; binary is 0x... with --hex-blob.
import type { RowCounts } from './types.js';

const NL = 0x0a;
const QUOTE = 0x27; // '
const BACKSLASH = 0x5c;
const OPEN = 0x28; // (
const CLOSE = 0x29; // )
const BACKTICK = 0x60;
const SEMICOLON = 0x3b;

/** Strings up to this long are scanned byte by byte; longer ones searched with indexOf (scanValues). */
const SHORT_STRING = 64;

/** The longest line start needed to read a `USE`, `Dumping data` or `INSERT INTO` line's name (64-char names, escaped). */
const HEAD_MAX = 1024;

const USE = /^USE `((?:[^`]|``)+)`;/;
const DUMPING = /^-- Dumping data for table `((?:[^`]|``)+)`/;
const INSERT = /^(?:INSERT|REPLACE)(?: IGNORE)? INTO `((?:[^`]|``)+)` /;

const unquote = (name: string) => name.replace(/``/g, '`');

/** In an INSERT line, where the scan is. */
const enum Where {
  /** Between lines, or in a line that is not an INSERT: skip to the next newline. */
  OtherLine,
  /** After the table name, before VALUES: a column list may come, with backtick-quoted names. */
  Header,
  HeaderName,
  /** The tuples. */
  Values,
  ValuesString,
  ValuesStringEscape,
}

export class MariadbRowCounter {
  /** What it keeps of a chunk (a line's first bytes) it copies: it may be shown reused memory. */
  readonly borrowsChunks = true;
  private readonly counts: RowCounts = {};
  private database = '';
  private table: Record<string, number> | undefined;
  private tableName = '';
  private where: Where = Where.OtherLine;
  private depth = 0;
  /** At a line start; the line's first bytes, while fewer than needed to tell what the line is. */
  private atLineStart = true;
  private head: Buffer | undefined;

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.where) {
        case Where.OtherLine: {
          if (this.atLineStart) {
            i = this.readLineStart(chunk, i);
            break;
          }
          const nl = chunk.indexOf(NL, i);
          if (nl < 0) return;
          i = nl + 1;
          this.atLineStart = true;
          break;
        }
        case Where.Header:
        case Where.HeaderName:
          i = this.scanHeader(chunk, i);
          break;
        default:
          i = this.scanValues(chunk, i);
      }
    }
  }

  /** Rows per table, per database. Throws if the dump ended inside an INSERT (a cut stream). */
  end(): RowCounts {
    // A last line without its newline: read what it is (an INSERT there is a cut one).
    if (this.where === Where.OtherLine && this.atLineStart && this.head) this.readLineStart(Buffer.from('\n'), 0);
    if (this.where !== Where.OtherLine) throw new Error(`the dump ends inside an INSERT into ${this.tableName}`);
    return this.counts;
  }

  /** Collects the line's first bytes until it is known what the line is; returns where the scan goes on. */
  private readLineStart(chunk: Buffer, i: number): number {
    const nl = chunk.indexOf(NL, i);
    const upto = nl < 0 ? chunk.length : nl;
    const piece = chunk.subarray(i, Math.min(upto, i + HEAD_MAX));
    const head = this.head ? Buffer.concat([this.head, piece]) : piece;
    const complete = nl >= 0 || head.length >= HEAD_MAX;
    if (!complete) {
      // Too short to tell yet (the chunk ended): keep the few bytes (copied: the chunk is reused upstream).
      this.head = Buffer.from(head);
      return chunk.length;
    }
    this.head = undefined;
    this.atLineStart = false;
    const consumedFromHead = head.length - piece.length;
    const text = head.toString('latin1');
    this.where = Where.OtherLine;
    const insert = text.charCodeAt(0) === 0x49 || text.charCodeAt(0) === 0x52 ? INSERT.exec(text) : null; // I, R
    if (insert) {
      this.tableName = unquote(utf8(insert[1] ?? ''));
      this.table = this.tableCounts(this.tableName);
      this.where = Where.Header;
      this.depth = 0;
      // Go on right after the name (and its space): in the bytes carried from the last chunk, or in this one.
      const matchEnd = insert[0].length;
      if (matchEnd >= consumedFromHead) return i + matchEnd - consumedFromHead;
      // (They hold no newline, so push() reads them as the rest of this statement's first line.)
      this.push(head.subarray(matchEnd, consumedFromHead));
      return i;
    }
    const use = text.startsWith('USE `') ? USE.exec(text) : null;
    if (use) this.database = unquote(utf8(use[1] ?? ''));
    const dumping = text.startsWith('-- Dumping data') ? DUMPING.exec(text) : null;
    if (dumping) this.tableCounts(unquote(utf8(dumping[1] ?? '')));
    // The rest of the line is skipped (OtherLine).
    return i + piece.length;
  }

  private tableCounts(name: string): Record<string, number> {
    const db = (this.counts[this.database] ??= {});
    db[name] ??= 0;
    return db;
  }

  /** `(col, ...) VALUES ` or `VALUES `: the tuples start at the first '(' after the word VALUES. */
  private scanHeader(chunk: Buffer, i: number): number {
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.where === Where.HeaderName) {
        if (c === BACKTICK) this.where = Where.Header; // a doubled `` re-enters at once: same result
        continue;
      }
      if (c === BACKTICK) this.where = Where.HeaderName;
      else if (c === OPEN) this.depth++;
      else if (c === CLOSE) this.depth--;
      else if (c === SEMICOLON && this.depth === 0) throw new Error(`an INSERT into ${this.tableName} has no VALUES`);
      else if (c === 0x56 /* V */ && this.depth === 0) {
        this.where = Where.Values;
        return i + 1;
      }
    }
    return i;
  }

  private scanValues(chunk: Buffer, i: number): number {
    const table = this.table!;
    const name = this.tableName;
    let depth = this.depth;
    let where = this.where;
    let rows = 0;
    let backslash = -2; // not searched yet
    const n = chunk.length;
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (where === Where.Values) {
        if (c === QUOTE) where = Where.ValuesString;
        else if (c === OPEN) {
          if (depth === 0) rows++;
          depth++;
        } else if (c === CLOSE) depth--;
        else if (c === SEMICOLON && depth === 0) {
          // The statement's end; the rest of its line is skipped.
          i++;
          where = Where.OtherLine;
          break;
        }
      } else if (where === Where.ValuesString) {
        // To the next quote or backslash: most of a dump's bytes are inside strings. Most strings are short, and for
        // them this loop is faster than a call into indexOf (the counter runs twice as fast on the benchmark's shop
        // data); past SHORT_STRING bytes the rest is jumped over. The next backslash is remembered (searching for it
        // from every string would rescan the chunk's rest each time).
        const stop = Math.min(n, i + SHORT_STRING);
        let byte = 0;
        while (i < stop && (byte = chunk[i]!) !== QUOTE && byte !== BACKSLASH) i++;
        if (i === stop) {
          const q = chunk.indexOf(QUOTE, i);
          if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(BACKSLASH, i);
          const next = q < 0 ? backslash : backslash < 0 ? q : Math.min(q, backslash);
          if (next < 0) {
            i = n;
            break;
          }
          i = next;
        }
        if (chunk[i] === QUOTE) where = Where.Values;
        else where = Where.ValuesStringEscape;
      } else {
        where = Where.ValuesString; // the escaped byte
      }
    }
    table[name] = (table[name] ?? 0) + rows;
    this.depth = depth;
    this.where = where;
    return i;
  }
}

/** Names come as bytes read as latin1 (to find them); the dump is utf8mb4. */
function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
