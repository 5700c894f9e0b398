// Reads a child process's stdout into memory that is reused, read after read.
//
// Why: a node stream allocates a fresh 64 KiB buffer for every read() of a pipe, and the kernel then zeroes the pages
// it lands in. pg_dump writes in small pieces, so node wakes and reads once per piece: that costs several times the
// CPU of reading into a reused buffer, CPU taken from the dump itself on a small machine (the figures: BENCHMARKS.md,
// "Where the time went"). A net.Socket in `onread` mode
// reads into one buffer we own; the child writes into a FIFO (its ends opened before the spawn, its name removed
// right after: no data ever touches the disk) because node cannot create a bare pipe.
//
// Chunks are lent: the one a `for await` gets is valid until it asks for the next (multipart.ts copies it into a part
// at once). Reads are gathered into one of two blocks while the consumer holds the other; a full block waits for the
// consumer with the socket not reading, and the child blocks on its full pipe: backpressure, with a fixed 2 ×
// BLOCK_BYTES of memory, whether or not the consumer has begun.
import { closeSync, constants as fsConstants, openSync, unlinkSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { monotonicNow } from '../util/time.js';

const READ_BYTES = 64 * 1024;
const BLOCK_BYTES = 512 * 1024;
/**
 * After a read of less than SMALL_READ the writer is slower than we are: stop reading for REST_MS and let its bytes
 * gather in the pipe, instead of waking for each of its writes (pg_dump writes ~4 KiB at a time, and each wake-up
 * costs node more than the bytes do).
 */
const SMALL_READ = 32 * 1024;
const REST_MS = 1;
/**
 * But a writer that fills the pipe (64 KiB, one read) while we rest was waiting on us, not we on it: a fast writer in
 * small writes (mariadb-dump) would be held to about one pipeful per rest. After such a read, no rests for
 * FAST_WRITER_MS; then one rest tries again, so a writer that slows down is rested for again.
 */
const FAST_WRITER_MS = 1000;

/** What the stall watchdog and progress logs read, from a PipeReader or a Meter. */
export interface Progress {
  bytes: number;
  lastActivity: number;
}

/** The bytes to store, in order, with their progress. */
export type ByteSource = AsyncIterable<Buffer> & Progress;

export class PipeReader implements ByteSource {
  bytes = 0;
  lastActivity = monotonicNow();
  private readonly socket: Socket;
  /** Empty blocks; the first one is being filled, up to `filled`. */
  private readonly free: Buffer[] = [Buffer.allocUnsafeSlow(BLOCK_BYTES), Buffer.allocUnsafeSlow(BLOCK_BYTES)];
  private filled = 0;
  /** A full block the consumer has not taken yet: reading waits until it does. */
  private ready: { block: Buffer; length: number } | undefined;
  /** The block holding the chunk the consumer has. */
  private lent: Buffer | undefined;
  /** Reading waits a moment after a small read. */
  private resting = false;
  /** The read after a rest tells whether the writer filled the pipe meanwhile. */
  private afterRest = false;
  private noRestUntil = 0;
  /** How many times reading rested (the tests read it). */
  rests = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(fd: number) {
    // `onread` works for any socket (net.js reads it in the constructor); @types/node lists it for connect() only.
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd,
      readable: true,
      writable: false,
      onread: { buffer: Buffer.allocUnsafeSlow(READ_BYTES), callback: (n, buf) => this.onRead(n, buf as Buffer) },
    };
    this.socket = new Socket(options);
    this.socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    this.socket.on('error', (err) => {
      this.error ??= err;
      this.notify();
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (;;) {
        this.giveBack();
        const chunk = this.take();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (this.error) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // Stopped early or done: close the pipe (a child still writing gets EPIPE, as with a destroyed stream).
      this.giveBack();
      this.socket.destroy();
    }
  }

  private onRead(n: number, buf: Buffer): boolean {
    const block = this.free[0];
    // Cannot happen: the socket is not reading while a full block waits, and then the other block is free.
    if (!block) throw new Error('PipeReader: a read with no block to fill');
    buf.copy(block, this.filled, 0, n);
    this.filled += n;
    this.bytes += n;
    this.lastActivity = monotonicNow();
    if (BLOCK_BYTES - this.filled < READ_BYTES) {
      this.ready = { block, length: this.filled };
      this.free.shift();
      this.filled = 0;
    }
    this.notify();
    if (this.afterRest && n >= READ_BYTES) this.noRestUntil = this.lastActivity + FAST_WRITER_MS;
    this.afterRest = false;
    if (!this.ready && n < SMALL_READ && !this.ended && this.lastActivity >= this.noRestUntil) {
      this.resting = true;
      this.afterRest = true;
      this.rests += 1;
      setTimeout(() => {
        this.resting = false;
        if (!this.ready && !this.ended) this.socket.resume();
      }, REST_MS);
    }
    return !this.ready && !this.resting;
  }

  /** The consumer is done with its chunk: that block can be filled again. */
  private giveBack(): void {
    if (!this.lent) return;
    this.free.push(this.lent);
    this.lent = undefined;
  }

  /** The oldest bytes not yet lent: a full block, else what the block being filled holds. */
  private take(): Buffer | undefined {
    if (this.ready) {
      const { block, length } = this.ready;
      this.ready = undefined;
      this.lent = block;
      // The other block was given back before this: reading can go on into it.
      if (!this.resting && !this.ended) this.socket.resume();
      return block.subarray(0, length);
    }
    if (this.filled === 0) return undefined;
    const block = this.free.shift()!;
    const length = this.filled;
    this.filled = 0;
    // The other block (given back before this) takes the next reads.
    this.lent = block;
    return block.subarray(0, length);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** FIFOs named `names` in `dir` (private to this process), mode 0600: one mkfifo process for all. */
export async function makeFifos(dir: string, names: readonly string[]): Promise<string[]> {
  const paths = names.map((name) => join(dir, name));
  await execa('mkfifo', ['-m', '600', ...paths]);
  return paths;
}

/**
 * The FIFO at `path`, opened at both ends: `writeFd` for the child's stdout (blocking, as dump tools expect), `reader`
 * for us. The name is removed at once; the caller closes writeFd after the spawn.
 */
export function openFifoReader(path: string): { reader: PipeReader; writeFd: number } {
  const fds: number[] = [];
  try {
    // Opening the read end without O_NONBLOCK would wait for a writer; with it open, the write end opens at once.
    fds.push(openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK));
    fds.push(openSync(path, fsConstants.O_WRONLY));
    unlinkSync(path);
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  return { reader: new PipeReader(fds[0]!), writeFd: fds[1]! };
}

/**
 * The FIFO at `path` as a pipe between two children: `readFd` for one's stdin, `writeFd` for the other's stdout, both
 * blocking (a child inherits O_NONBLOCK, and would read EAGAIN). The name is removed at once; the caller closes both
 * once the children have them, or the reader never sees the end.
 */
export function openFifoBetweenChildren(path: string): { readFd: number; writeFd: number } {
  const fds: number[] = [];
  try {
    // A non-blocking read end lets the write end open at once; with a writer there, a blocking read end opens at once too.
    fds.push(openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK));
    fds.push(openSync(path, fsConstants.O_WRONLY));
    fds.push(openSync(path, fsConstants.O_RDONLY));
    unlinkSync(path);
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  closeSync(fds[0]!);
  return { readFd: fds[2]!, writeFd: fds[1]! };
}
