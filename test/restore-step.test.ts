/**
 * The restore step on its own, against moto: GetObject → decompress → filter → gate → a command's stdin. The
 * commands here are small shell programs standing in for pg_restore / mariadb, so every way of failing can be made
 * to happen: missing objects, corrupt and truncated gzip and zstd, a command dying early, a missing completion
 * comment, an interrupt.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, RestoreStep } from '../src/engines/types.js';
import { RestoreFailed } from '../src/errors.js';
import { readObjectThrough, streamObjectToCommand, type RestoreStepContext } from '../src/pipeline/restore-step.js';
import { binWith } from './helpers/bin-dir.js';
import { getRig } from './helpers/rig.js';
import { createBucket, s3Client, uniqueBucketName } from './rig/s3.js';

const rig = getRig();
const s3 = s3Client(rig.moto.endpoint);
let bucket: string;
let dir: string;

const ctx = (over: Partial<RestoreStepContext> = {}): RestoreStepContext => ({
  client: s3,
  bucket,
  mask: (t) => t.replace(/hunter2/g, '***'),
  log: pino({ level: 'silent' }),
  deadline: Date.now() + 60_000,
  progressIntervalMs: 30_000,
  signal: new AbortController().signal,
  ...over,
});

/** A stand-in restore tool: copies its stdin to a file (or runs the given shell line). */
const sink = (out: string, script = 'cat > "$OUT"'): Command => ({ argv: ['sh', '-c', script], env: { OUT: out } });
const step = (objectName: string, command: Command, extra: Partial<RestoreStep> = {}): RestoreStep => ({
  objectName,
  compression: objectName.endsWith('.gz') ? 'gzip' : objectName.endsWith('.zst') ? 'zstd' : 'none',
  command,
  ...extra,
});
const put = (key: string, body: Buffer | string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RestoreFailed);

/** 3 MiB of SQL-ish lines, ending with a completion comment. */
const SQL = Buffer.from(
  Array.from({ length: 30_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'ünïcødé ${'x'.repeat(i % 80)}');`).join('\n') + '\n-- Dump completed on 2025-03-01\n',
);
const zstd = (data: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 64 * 1024 * 1024 });
/** 13 MiB that compress little (hex of SHA-256s): a zstd object of ~7 MiB, more than the pipes between S3 and zstd hold. */
const BIG = Buffer.from(Array.from({ length: 200_000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('\n'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A stand-in that writes its input to $OUT, then END once its input ended (a killed one never does). */
const noting = (out: string) => sink(out, 'cat > "$OUT" && echo END >> "$OUT"');
/** `data` with 64 bytes from `at` changed. */
const damaged = (data: Buffer, at: number) => {
  const copy = Buffer.from(data);
  for (let i = at; i < at + 64; i += 1) copy[i] = copy[i]! ^ 0x5a;
  return copy;
};

beforeAll(async () => {
  bucket = await createBucket(s3, uniqueBucketName('restorestep'));
  dir = await mkdtemp(join(tmpdir(), 'restore-step-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('streamObjectToCommand', () => {
  it.each([
    ['plain', 'x.sql', (b: Buffer) => b],
    ['gzip', 'x.sql.gz', (b: Buffer) => gzipSync(b)],
    ['zstd', 'x.sql.zst', zstd],
  ])('%s: the command reads exactly the original bytes', async (_label, name, encode) => {
    const body = encode(SQL);
    await put(`ok/${name}`, body);
    const out = join(dir, `ok-${name}`);
    const result = await streamObjectToCommand(step(name, sink(out), { completionMarker: '-- Dump completed' }), { key: `ok/${name}` }, ctx());
    expect(result.bytes).toBe(body.length);
    expect((await readFile(out)).equals(SQL)).toBe(true);
  });

  it('a missing object: cannot read it, and the command never starts', async () => {
    const out = join(dir, 'never');
    const err = await failure(streamObjectToCommand(step('gone.dump', sink(out)), { key: 'nowhere/gone.dump' }, ctx()));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(/^cannot read s3:\/\/\S+\/nowhere\/gone\.dump: NoSuchKey \(HTTP 404\)/);
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });

  it.each([
    ['truncated gzip', 'cut.sql.gz', () => gzipSync(SQL).subarray(0, 50_000), /cut\.sql\.gz is corrupt or truncated: it does not decompress \(unexpected end of file\)/],
    ['garbage as gzip', 'junk.sql.gz', () => Buffer.from('not gzip at all'.repeat(100)), /junk\.sql\.gz is corrupt or truncated: it does not decompress \(incorrect header check\)/],
    ['truncated zstd', 'cut.sql.zst', () => zstd(SQL).subarray(0, 40_000), /cut\.sql\.zst is corrupt or truncated: .*zstd -d exited with code 1/],
    ['garbage as zstd', 'junk.sql.zst', () => Buffer.from('not zstd'.repeat(1000)), /junk\.sql\.zst is corrupt or truncated: .*zstd -d exited with code 1/],
    // zstd stops at the damage while the rest of the object is still arriving: the download must stop too.
    ['zstd damaged in its first block', 'bad.sql.zst', () => damaged(zstd(BIG), 2000), /bad\.sql\.zst is corrupt or truncated: .*zstd -d exited with code 1/],
  ])('%s: fails as corrupt, and the command is stopped before it reads an end', async (_label, name, make, message) => {
    await put(`bad/${name}`, make());
    // The stand-in notes whether it saw its input end; a killed one never writes the note.
    const out = join(dir, `bad-${name}`);
    const err = await failure(streamObjectToCommand(step(name, sink(out, 'cat > "$OUT" && echo END >> "$OUT"')), { key: `bad/${name}` }, ctx()));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(message);
    const written = await readFile(out, 'utf8').catch(() => '');
    expect(written.endsWith('END\n')).toBe(false);
  });

  it('a plain object without its completion comment is truncated: the command never gets the last bytes', async () => {
    const cut = SQL.subarray(0, SQL.length - 200_000);
    await put('trunc/x.sql', cut);
    const out = join(dir, 'trunc');
    const err = await failure(streamObjectToCommand(step('x.sql', sink(out, 'cat > "$OUT" && echo END >> "$OUT"'), { completionMarker: '-- Dump completed' }), { key: 'trunc/x.sql' }, ctx()));
    expect(err!.message).toMatch(/trunc\/x\.sql is corrupt or truncated: it is truncated: its end lacks '-- Dump completed'/);
    const written = await readFile(out).catch(() => Buffer.alloc(0));
    expect(written.length).toBeLessThanOrEqual(cut.length - 64 * 1024);
  });

  it('the command failing early: its exit code and stderr, masked', async () => {
    await put('early/x.sql', SQL);
    const err = await failure(
      streamObjectToCommand(step('x.sql', { argv: ['sh', '-c', 'head -c 1000 >/dev/null; echo "FATAL: password hunter2 rejected" >&2; exit 3'] }), { key: 'early/x.sql' }, ctx()),
    );
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/early\/x\.sql: sh exited with code 3: FATAL: password \*\*\* rejected/);
    expect(err!.message).not.toContain('hunter2');
  });

  it('the command failing early on a zstd object: its error, and nothing left waiting on zstd\'s unread output', async () => {
    // A few KiB that zstd makes 32 MiB of: all of it is in zstd before the command stops reading, and zstd's output
    // the command never read stays in zstd's pipe, whose stream would then never end, nor the restore.
    await put('early/x.sql.zst', zstd(Buffer.alloc(32 * 1024 * 1024, 'INSERT INTO t VALUES (1);\n')));
    const started = Date.now();
    const err = await failure(
      streamObjectToCommand(step('x.sql.zst', { argv: ['sh', '-c', 'head -c 1000 >/dev/null; echo "ERROR 1064: syntax" >&2; exit 1'] }), { key: 'early/x.sql.zst' }, ctx()),
    );
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/early\/x\.sql\.zst: sh exited with code 1: ERROR 1064: syntax/);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  // The command exits before the gate lets anything through (a small object is held back whole until its end is
  // checked): Node then closes the command's stdin on its exit, with no EPIPE from a write. The command's own
  // failure must still be what is reported, not a stage the closing broke on the way.
  it.each([
    ['plain', 'x.sql', (b: Buffer) => b],
    ['gzip', 'x.sql.gz', (b: Buffer) => gzipSync(b)],
    ['zstd', 'x.sql.zst', zstd],
  ])('%s: the command exiting before it is given anything: its exit code and stderr', async (_label, name, encode) => {
    await put(`gone/${name}`, encode(Buffer.from('INSERT INTO t VALUES (1);\n'.repeat(1000))));
    const err = await failure(
      streamObjectToCommand(step(name, { argv: ['sh', '-c', 'echo "FATAL: role x does not exist" >&2; exit 2'] }), { key: `gone/${name}` }, ctx()),
    );
    expect(err!.message).toMatch(new RegExp(`^restoring s3://\\S+/gone/${name.replace(/\./g, '\\.')}: sh exited with code 2: FATAL: role x does not exist`));
  });

  it('the command exiting 0 without reading everything is a failure too', async () => {
    await put('quits/x.sql', SQL);
    const err = await failure(streamObjectToCommand(step('x.sql', { argv: ['sh', '-c', 'head -c 10 >/dev/null; exit 0'] }), { key: 'quits/x.sql' }, ctx()));
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/quits\/x\.sql: sh stopped reading before the end of the object/);
  });

  it('the line filter edits the stream and its end() can fail it', async () => {
    await put('filter/x.sql', 'keep 1\ndrop me\nkeep 2\n');
    const out = join(dir, 'filtered');
    const filter = () => ({ line: (l: string) => (l.startsWith('drop') ? null : l.toUpperCase()) });
    await streamObjectToCommand(step('x.sql', sink(out), { filter }), { key: 'filter/x.sql' }, ctx());
    expect(await readFile(out, 'utf8')).toBe('KEEP 1\nKEEP 2\n');
    const failing = () => ({ line: (l: string) => l, end: () => { throw new Error('the backup holds no database x'); } });
    const err = await failure(streamObjectToCommand(step('x.sql', sink(join(dir, 'f2'), 'cat > "$OUT" && echo END >> "$OUT"'), { filter: failing }), { key: 'filter/x.sql' }, ctx()));
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/filter\/x\.sql: the backup holds no database x/);
    expect(await readFile(join(dir, 'f2'), 'utf8').catch(() => '')).not.toContain('END');
  });

  it('an interrupt stops the command', async () => {
    await put('slow/x.sql', SQL);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const err = await failure(streamObjectToCommand(step('x.sql', { argv: ['sh', '-c', 'sleep 30'] }), { key: 'slow/x.sql' }, ctx({ signal: controller.signal })));
    expect(err!.message).toMatch(/interrupted/);
  });

  it("an object whose bytes differ from the manifest's SHA-256 fails, and the command never reads its end", async () => {
    await put('digest/x.sql', SQL);
    const right = createHash('sha256').update(SQL).digest('hex');
    const out = join(dir, 'digest-ok');
    await streamObjectToCommand(step('x.sql', sink(out), { completionMarker: '-- Dump completed' }), { key: 'digest/x.sql', sha256: right }, ctx());
    expect((await readFile(out)).equals(SQL)).toBe(true);
    const wrong = createHash('sha256').update('something else').digest('hex');
    const bad = join(dir, 'digest-bad');
    const err = await failure(
      streamObjectToCommand(step('x.sql', sink(bad, 'cat > "$OUT" && echo END >> "$OUT"')), { key: 'digest/x.sql', sha256: wrong }, ctx()),
    );
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(new RegExp(`digest/x\\.sql is corrupt or truncated: its SHA-256 is ${right}, but the backup's manifest recorded ${wrong}`));
    expect(await readFile(bad, 'utf8').catch(() => '')).not.toContain('END');
  });

  it('readObjectThrough checks an object whole without a command', async () => {
    await put('check/g.sql.gz', gzipSync(SQL));
    expect((await readObjectThrough({ compression: 'gzip', completionMarker: '-- Dump completed' }, { key: 'check/g.sql.gz' }, ctx())).bytes).toBeGreaterThan(0);
    const err = await failure(readObjectThrough({ compression: 'gzip', completionMarker: '-- PostgreSQL database cluster dump complete' }, { key: 'check/g.sql.gz' }, ctx()));
    expect(err!.message).toMatch(/its end lacks '-- PostgreSQL database cluster dump complete'/);
  });
});

/**
 * With the object's SHA-256 known (every backup with a manifest), zstd -d writes straight into the command and node
 * passes on only the compressed bytes. The same guarantees: the command never reads an end that is not the whole
 * object's, and a failure names what failed.
 */
describe('streamObjectToCommand, zstd -d straight into the command', () => {

  it('the command reads exactly the original bytes, written into its stdin by zstd, not by node', async () => {
    const body = zstd(BIG);
    await put('direct/ok.dump.zst', body);
    const out = join(dir, 'direct-ok');
    // Once its first byte is in, the stand-in names the programs holding its stdin's write end (Linux: the pipe's
    // inode in /proc/*/fd), then reads the rest.
    const who = join(dir, 'direct-writers');
    const script =
      'dd bs=1 count=1 of="$OUT" 2>/dev/null; pipe=$(readlink /proc/$$/fd/0); for fd in /proc/[0-9]*/fd/*; do ' +
      '[ "$(readlink "$fd" 2>/dev/null)" = "$pipe" ] && cat "${fd%/fd/*}/comm"; done > "$WHO" 2>/dev/null; cat >> "$OUT"';
    const command: Command = { argv: ['sh', '-c', script], env: { OUT: out, WHO: who } };
    const result = await streamObjectToCommand(step('ok.dump.zst', command), { key: 'direct/ok.dump.zst', sha256: sha256(body) }, ctx());
    expect(result.bytes).toBe(body.length);
    expect((await readFile(out)).equals(BIG)).toBe(true);
    expect((await readFile(who, 'utf8')).split('\n')).toContain('zstd');
  });

  // A backup whose object was bad when it was made (its SHA-256 is of the bad bytes): only zstd can tell.
  it.each([
    // zstd writes all it can and fails only at the frame's end: the command has everything but the end.
    ['truncated zstd', 'cut.dump.zst', () => zstd(BIG).subarray(0, zstd(BIG).length - 3)],
    ['garbage as zstd', 'junk.dump.zst', () => Buffer.from('not zstd'.repeat(1000))],
    ['zstd damaged in its first block', 'bad.dump.zst', () => damaged(zstd(BIG), 2000)],
  ])('%s: fails as corrupt, and the command is stopped before it reads an end', async (_label, name, make) => {
    const body = make();
    await put(`direct-bad/${name}`, body);
    const out = join(dir, `direct-bad-${name}`);
    const err = await failure(streamObjectToCommand(step(name, noting(out)), { key: `direct-bad/${name}`, sha256: sha256(body) }, ctx()));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(new RegExp(`direct-bad/${name.replace(/\./g, '\\.')} is corrupt or truncated: .*zstd -d exited with code 1`));
    expect((await readFile(out, 'utf8').catch(() => '')).endsWith('END\n')).toBe(false);
  });

  it("an object whose bytes differ from the manifest's SHA-256: the command never reads its end", async () => {
    const body = zstd(BIG);
    await put('direct-digest/x.dump.zst', body);
    const wrong = sha256(Buffer.from('something else'));
    const out = join(dir, 'direct-digest');
    const err = await failure(streamObjectToCommand(step('x.dump.zst', noting(out)), { key: 'direct-digest/x.dump.zst', sha256: wrong }, ctx()));
    expect(err!.message).toMatch(new RegExp(`direct-digest/x\\.dump\\.zst is corrupt or truncated: its SHA-256 is ${sha256(body)}, but the backup's manifest recorded ${wrong}`));
    const written = await readFile(out).catch(() => Buffer.alloc(0));
    expect(written.toString('utf8').endsWith('END\n')).toBe(false);
    expect(written.length).toBeLessThan(BIG.length);
  });

  it('a command whose process group outlives it: what ignored SIGTERM is killed before its input is closed', async () => {
    const body = zstd(BIG);
    await put('direct-group/x.dump.zst', body);
    const out = join(dir, 'direct-group');
    // The leader is stopped (SIGTERM) when the SHA-256 turns out wrong; a child of its group that ignores SIGTERM,
    // stdout and stderr closed, keeps reading the command's stdin and would note its end.
    const script = 'exec 3<&0; (trap "" TERM; exec >/dev/null 2>&1; cat <&3 > "$OUT"; echo END >> "$OUT") & exec sleep 30';
    const err = await failure(
      streamObjectToCommand(step('x.dump.zst', { argv: ['sh', '-c', script], env: { OUT: out } }), { key: 'direct-group/x.dump.zst', sha256: sha256(Buffer.from('other')) }, ctx()),
    );
    expect(err!.message).toMatch(/direct-group\/x\.dump\.zst is corrupt or truncated: its SHA-256 is/);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a survivor would have seen its input end by now
    expect(await readFile(out, 'utf8').catch(() => '')).not.toContain('END');
  }, 30_000);

  it.each([
    // Few KiB that zstd makes 32 MiB of: zstd is left writing to a command that is gone.
    ['while zstd writes', () => zstd(Buffer.alloc(32 * 1024 * 1024, 'INSERT INTO t VALUES (1);\n')), 'head -c 1000 >/dev/null; echo "ERROR: syntax" >&2; exit 1', /sh exited with code 1: ERROR: syntax/],
    // A small object is held back whole by the gate: the command is gone before zstd is given anything.
    ['before it is given anything', () => zstd(Buffer.from('INSERT INTO t VALUES (1);\n'.repeat(1000))), 'echo "FATAL: role x does not exist" >&2; exit 2', /sh exited with code 2: FATAL: role x does not exist/],
    ['exiting 0 before the end', () => zstd(BIG), 'head -c 10 >/dev/null; exit 0', /sh stopped reading before the end of the object/],
  ])('the command failing %s: its own exit code and stderr', async (label, make, script, message) => {
    const body = make();
    const key = `direct-early/${label.replace(/\W+/g, '-')}.dump.zst`;
    await put(key, body);
    const err = await failure(streamObjectToCommand(step('x.dump.zst', { argv: ['sh', '-c', script] }), { key, sha256: sha256(body) }, ctx()));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(new RegExp(`^restoring s3://\\S+/${key.replace(/\./g, '\\.')}: ${message.source}`));
  }, 30_000);
});

describe('streamObjectToCommand without the restore tool', () => {
  it('zstd -d straight into a command that is not installed: the command could not start', async () => {
    const body = zstd(BIG);
    await put('notool/x.dump.zst', body);
    const ref = { key: 'notool/x.dump.zst', sha256: sha256(body) };
    const err = await failure(streamObjectToCommand(step('x.dump.zst', { argv: ['no-such-restore-tool'] }), ref, ctx()));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/notool\/x\.dump\.zst: no-such-restore-tool could not start: .*ENOENT/);
  });
});

describe('streamObjectToCommand without the zstd program', () => {
  // Not a corrupt backup: an operator in an outage must be told to install zstd, not that the backup is bad.
  it.each([
    ['node decompressing', undefined],
    ['zstd -d straight into the command', 'sha256'],
  ])('%s: says zstd could not start, not that the object is corrupt; the command never reads an end', async (_label, withDigest) => {
    const body = zstd(SQL);
    await put('nozstd/x.dump.zst', body);
    const out = join(dir, `nozstd-${withDigest ?? 'plain'}`);
    // What the children are started with (command.ts): the stand-in's cat and mkfifo (FIFOs), no zstd.
    const bin = await binWith(await mkdtemp(join(dir, 'no-zstd-bin-')), ['cat', 'mkfifo']);
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      const ref = { key: 'nozstd/x.dump.zst', ...(withDigest ? { sha256: sha256(body) } : {}) };
      const err = await failure(streamObjectToCommand(step('x.dump.zst', { argv: ['/bin/sh', '-c', 'cat > "$OUT" && echo END >> "$OUT"'], env: { OUT: out } }), ref, ctx()));
      expect(err).toBeInstanceOf(RestoreFailed);
      expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/nozstd\/x\.dump\.zst: zstd -d could not start: .*ENOENT/);
    } finally {
      process.env.PATH = path;
    }
    expect(await readFile(out, 'utf8').catch(() => '')).not.toContain('END');
  });
});

describe('streamObjectToCommand: zstd or the run stopped from outside', () => {

  // The OOM killer, say: not a corrupt object, and the command must not see an end either.
  it.each([
    ['node decompressing', false],
    ['zstd -d straight into the command', true],
  ])('%s: zstd killed by a signal nobody here sent is said as such; the command never reads an end', async (_label, withDigest) => {
    const body = zstd(BIG);
    const key = `zstdkilled/${withDigest ? 'direct' : 'node'}.dump.zst`;
    await put(key, body);
    const out = join(dir, `zstdkilled-${withDigest}`);
    // Once its first byte is in, the stand-in kills the zstd its parent (this process) started, then reads on.
    const script = 'dd bs=1 count=1 of="$OUT" 2>/dev/null; kill -9 $(pgrep -P $PPID -x zstd); cat >> "$OUT" && echo END >> "$OUT"';
    const err = await failure(
      streamObjectToCommand(step('x.dump.zst', { argv: ['sh', '-c', script], env: { OUT: out } }), { key, ...(withDigest ? { sha256: sha256(body) } : {}) }, ctx()),
    );
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(new RegExp(`^restoring s3://\\S+/${key.replace(/\./g, '\\.')}: zstd -d was killed by SIGKILL`));
    expect(await readFile(out, 'utf8').catch(() => '')).not.toContain('END');
  }, 30_000);

  it('an interrupt after node passed on the last byte, zstd still writing into the command: said as the interrupt', async () => {
    // A few KiB that zstd makes 32 MiB of: node is done at once, zstd waits on a command that has not begun to read.
    const body = zstd(Buffer.alloc(32 * 1024 * 1024, 'INSERT INTO t VALUES (1);\n'));
    await put('late/x.dump.zst', body);
    const out = join(dir, 'late-stop');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const script = 'echo "restoring into db1" >&2; sleep 3; cat > "$OUT" && echo END >> "$OUT"';
    const command: Command = { argv: ['sh', '-c', script], env: { OUT: out } };
    const err = await failure(streamObjectToCommand(step('x.dump.zst', command), { key: 'late/x.dump.zst', sha256: sha256(body) }, ctx({ signal: controller.signal })));
    expect(err).toBeInstanceOf(RestoreFailed);
    expect(err!.message).toMatch(/^restoring s3:\/\/\S+\/late\/x\.dump\.zst was interrupted/);
    expect(err!.stderrTail).toContain('restoring into db1'); // the command's own last words, for the log
    expect(await readFile(out, 'utf8').catch(() => '')).not.toContain('END');
  }, 30_000);
});
