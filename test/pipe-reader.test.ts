// The PipeReader against real child processes: every byte arrives, in order, whatever the writes look like; a lent
// chunk stays intact while the consumer holds it; a slow consumer holds the child back with bounded memory; a consumer
// that stops closes the pipe; and no name is left in the temporary directory.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCommand } from '../src/pipeline/command.js';
import { makeFifos, openFifoReader } from '../src/pipeline/pipe-reader.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const mask = (s: string) => s;
const dir = mkdtempSync(join(tmpdir(), 'pipe-reader-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A node child writing `file` to stdout in writes of random sizes up to maxWrite, pausing now and then. */
function writer(file: string, maxWrite: number, pauseEvery = 0): [string, ...string[]] {
  const script = `
    const fs = require('fs'); const data = fs.readFileSync(${JSON.stringify(file)});
    let offset = 0, writes = 0;
    const next = () => {
      while (offset < data.length) {
        const n = Math.min(data.length - offset, 1 + Math.floor(Math.random() * ${maxWrite}));
        fs.writeSync(1, data.subarray(offset, offset + n)); offset += n; writes++;
        if (${pauseEvery} && writes % ${pauseEvery} === 0) return setTimeout(next, 1);
      }
    };
    next();`;
  return [process.execPath, '-e', script];
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('PipeReader', () => {
  it('rests after a small read while the writer is slow, but not once the writer filled the pipe during a rest', async () => {
    // This test writes into the pipe itself: a synchronous write cannot be interleaved with the reader's reads.
    const [path] = await makeFifos(dir, ['rests']);
    const { reader, writeFd } = openFifoReader(path!);
    const reading = (async () => {
      for await (const _ of reader) {
        /* consumed */
      }
    })();
    const until = async (what: string, done: () => boolean) => {
      for (const deadline = Date.now() + 10_000; !done(); await new Promise((r) => setTimeout(r, 5))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      }
    };
    try {
      // A slow writer: small reads, each followed by a rest.
      writeSync(writeFd, Buffer.alloc(100));
      await until('the first read', () => reader.bytes === 100);
      await new Promise((r) => setTimeout(r, 20));
      writeSync(writeFd, Buffer.alloc(100));
      await until('the second read', () => reader.bytes === 200);
      expect(reader.rests).toBe(2);
      // During (or right after) that rest, the writer fills the pipe: one read of 64 KiB. It was waiting on us.
      writeSync(writeFd, Buffer.alloc(64 * KiB));
      await until('the pipeful', () => reader.bytes === 200 + 64 * KiB);
      // Its next small write is read without a rest.
      writeSync(writeFd, Buffer.alloc(100));
      await until('the read after the pipeful', () => reader.bytes === 300 + 64 * KiB);
      expect(reader.rests).toBe(2);
    } finally {
      closeSync(writeFd);
      await reading;
    }
  });

  it('delivers every byte in order, for writes of any size, and ends when the child closes its stdout', async () => {
    for (const [maxWrite, pauseEvery] of [[1, 0], [4 * KiB, 50], [3 * MiB, 0]] as const) {
      const data = randomBytes(maxWrite === 1 ? 64 * KiB : 6 * MiB + 123);
      const file = join(dir, `data-${maxWrite}`);
      writeFileSync(file, data);
      const child = await startCommand({ argv: writer(file, maxWrite, pauseEvery) }, { mask, stdout: 'reader' });
      const hash = createHash('sha256');
      let chunks = 0;
      for await (const chunk of child.stdout) {
        hash.update(chunk);
        chunks += 1;
        expect(chunk.length).toBeLessThanOrEqual(512 * KiB);
      }
      await child.finished;
      expect(hash.digest('hex')).toBe(sha(data));
      expect(child.stdout.bytes).toBe(data.length);
      expect(chunks).toBeGreaterThan(0);
    }
  });

  it('keeps order when the consumer is sometimes quick and sometimes slow, and the child writes in bursts', async () => {
    const data = randomBytes(12 * MiB);
    const file = join(dir, 'bursts');
    writeFileSync(file, data);
    for (let round = 0; round < 3; round += 1) {
      const child = await startCommand({ argv: writer(file, 200 * KiB, 7) }, { mask, stdout: 'reader' });
      const hash = createHash('sha256');
      for await (const chunk of child.stdout) {
        hash.update(chunk);
        const r = Math.random();
        if (r < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        else if (r < 0.6) await new Promise((resolve) => setImmediate(resolve));
      }
      await child.finished;
      expect(hash.digest('hex')).toBe(sha(data));
    }
  });

  it('an empty output is an empty iteration', async () => {
    const child = await startCommand({ argv: ['true'] }, { mask, stdout: 'reader' });
    const chunks: Buffer[] = [];
    for await (const chunk of child.stdout) chunks.push(chunk);
    await child.finished;
    expect(chunks).toEqual([]);
  });

  it('leaves a lent chunk alone until the next is asked for, and holds a fast child back with bounded memory', async () => {
    const data = randomBytes(16 * MiB);
    const file = join(dir, 'fast');
    writeFileSync(file, data);
    const child = await startCommand({ argv: ['cat', file] }, { mask, stdout: 'reader' });
    const received: Buffer[] = [];
    let consumed = 0;
    let maxAhead = 0;
    for await (const chunk of child.stdout) {
      const copy = Buffer.from(chunk);
      // A slow consumer: the child keeps writing meanwhile, and the reader must neither overwrite this chunk nor
      // keep more than its two blocks.
      await new Promise((r) => setTimeout(r, 2));
      expect(chunk.equals(copy)).toBe(true);
      consumed += chunk.length;
      maxAhead = Math.max(maxAhead, child.stdout.bytes - consumed);
      received.push(copy);
    }
    await child.finished;
    expect(sha(Buffer.concat(received))).toBe(sha(data));
    expect(maxAhead).toBeLessThanOrEqual(2 * 512 * KiB);
  });

  it('holds a fast child back until the consumer begins, losing nothing meanwhile', async () => {
    const data = randomBytes(4 * MiB);
    const file = join(dir, 'late');
    writeFileSync(file, data);
    const child = await startCommand({ argv: ['cat', file] }, { mask, stdout: 'reader' });
    // cat could write it all at once; the reader takes at most its two blocks before anyone asks.
    await new Promise((r) => setTimeout(r, 300));
    expect(child.stdout.bytes).toBeLessThanOrEqual(2 * 512 * KiB);
    const received: Buffer[] = [];
    for await (const chunk of child.stdout) received.push(Buffer.from(chunk));
    await child.finished;
    expect(sha(Buffer.concat(received))).toBe(sha(data));
  });

  it('a consumer that stops closes the pipe: the child is not left blocked on it', async () => {
    const child = await startCommand({ argv: ['yes', 'y'] }, { mask, stdout: 'reader' });
    let seen = 0;
    for await (const chunk of child.stdout) {
      seen += chunk.length;
      if (seen > 4 * MiB) break;
    }
    // `yes` dies of SIGPIPE (or EPIPE) once the read end is gone.
    await expect(child.finished).rejects.toThrow(/yes (was killed by SIGPIPE|exited with code 1)/);
  });

  it('the child writes into a pipe whose name is already gone', async () => {
    const child = await startCommand({ argv: ['sleep', '0.3'] }, { mask, stdout: 'reader' });
    // A FIFO (node cannot make an unnamed pipe) in a private temporary directory; its name was removed before the
    // child started. The directory holds only FIFOs made ahead for the next commands, no data.
    const target = readlinkSync(`/proc/${child.pid}/fd/1`);
    const match = /^(.*\/mydb-backup-\d+-[^/]+)\/(fifo-\d+) \(deleted\)$/.exec(target);
    expect(match, target).not.toBeNull();
    const [, fifoDir, name] = match!;
    expect(readdirSync(fifoDir!)).not.toContain(name);
    expect(statSync(fifoDir!).mode & 0o777).toBe(0o700);
    for (const other of readdirSync(fifoDir!)) expect(statSync(join(fifoDir!, other)).isFIFO()).toBe(true);
    for await (const chunk of child.stdout) expect(chunk).toBeUndefined();
    await child.finished;
  });

  it('FIFOs are made in batches: far fewer mkfifo processes than commands reading through one', async () => {
    // A process started from node costs it a fork of its whole memory map; one mkfifo per dump was one more per database.
    const bin = join(dir, 'counting-bin');
    const log = join(dir, 'mkfifo.log');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mkfifo'), `#!/bin/sh\necho "$#" >> ${log}\nexec /usr/bin/mkfifo "$@"\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      for (let i = 0; i < 40; i += 1) {
        const child = await startCommand({ argv: ['printf', 'x'] }, { mask, stdout: 'reader' });
        let got = '';
        for await (const chunk of child.stdout) got += chunk.toString();
        await child.finished;
        expect(got).toBe('x');
      }
    } finally {
      process.env.PATH = path;
    }
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    // 40 FIFOs: at most three batches (some may be left from the tests before), each several FIFOs at once.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(3);
    for (const count of calls) expect(Number(count)).toBeGreaterThan(8);
  });

  it('the FIFOs made ahead leave nothing behind when the process exits', async () => {
    const script = `
      const { startCommand } = await import(${JSON.stringify(new URL('../dist/pipeline/command.js', import.meta.url).href)});
      const child = await startCommand({ argv: ['true'] }, { mask: (s) => s, stdout: 'reader' });
      for await (const chunk of child.stdout) void chunk;
      await child.finished;
      const dirs = require('node:fs').readdirSync(require('node:os').tmpdir()).filter((d) => d.startsWith('mydb-backup-' + process.pid + '-'));
      console.log(JSON.stringify({ pid: process.pid, dirs }));`;
    const out = execFileSync(process.execPath, ['--input-type=commonjs', '-e', `(async () => {${script}})()`], { encoding: 'utf8' });
    const { pid, dirs } = JSON.parse(out) as { pid: number; dirs: string[] };
    expect(dirs).toHaveLength(1); // while it ran: the stock
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith(`mydb-backup-${pid}-`))).toEqual([]);
  });
});

describe('startCommand, when this process exits', () => {
  // A second Ctrl-C ends the tool with process.exit: a restore tool left running would then read the end of its
  // input (our end of its stdin closing with us) and could take a cut stream for a whole one.
  it('however it exits, the children still running are killed first and never read an end', async () => {
    const out = join(dir, 'exit-kills');
    const script = `
      const { startCommand } = await import(${JSON.stringify(new URL('../dist/pipeline/command.js', import.meta.url).href)});
      const child = await startCommand({ argv: ['sh', '-c', 'cat > "$OUT"; echo END >> "$OUT"'], env: { OUT: ${JSON.stringify(out)} } }, { mask: (s) => s, stdin: 'pipe' });
      child.stdin.write('some of the object\\n');
      setTimeout(() => process.exit(130), 300);`;
    try {
      execFileSync(process.execPath, ['--input-type=commonjs', '-e', `(async () => {${script}})()`], { encoding: 'utf8' });
    } catch (err) {
      expect((err as { status?: number }).status).toBe(130);
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // a child left running would have written END by now
    const written = readFileSync(out, 'utf8');
    expect(written).toBe('some of the object\n');
  });
});
