// One restore step, the counterpart of stream-step.ts: S3 GetObject → meter → decompress → (line filter) → gate →
// the restore command's stdin; or, for a zstd object whose SHA-256 is known and whose decompressed bytes nothing in
// node reads, S3 GetObject → meter → gate → zstd -d → the command's stdin (zstdStraightIntoCommand). Nothing touches
// the disk. Success means the whole object was read (as many bytes as S3 announced), the decompressor and the filter
// were satisfied, the completion marker (if any) was there, and the command exited 0. Anything else stops the
// command — before it reads the end of its input whenever the problem is known by then — and fails with a message
// naming the object and what went wrong.
import { createHash } from 'node:crypto';
import { finished, pipeline, Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { StreamRowCounter } from '../counts/stream.js';
import type { RowCounts } from '../counts/types.js';
import type { Command, LineFilter, RestoreStep } from '../engines/types.js';
import { CommandFailed, CommandNotStarted, errorText, FailureWithStderr, RestoreFailed } from '../errors.js';
import { s3Url } from '../storage/layout.js';
import type { Masker } from '../util/mask.js';
import { startCommand, type RunningCommand } from './command.js';
import { createDecompressor, ZSTD_DECOMPRESS_ARGV } from './decompress.js';
import { Meter } from './meter.js';
import { describeS3Error } from '../storage/s3-errors.js';
import { mibPerSecond } from './stream-step.js';
import { monotonicNow, msSince } from '../util/time.js';

export interface RestoreStepContext {
  client: S3Client;
  bucket: string;
  mask: Masker;
  log: Logger;
  /** Epoch ms after which the restore is stopped (the overall --timeout). */
  deadline: number;
  progressIntervalMs: number;
  signal: AbortSignal;
}

/** The context of the restore steps of one command: the S3 client, the run's timeout and interrupt. */
export function restoreStepContext(config: Config, io: { log: Logger; mask: Masker; signal: AbortSignal }, client: S3Client, mask: Masker = io.mask): RestoreStepContext {
  return {
    client,
    bucket: config.s3.bucket,
    mask,
    log: io.log,
    deadline: monotonicNow() + config.timeoutMs,
    progressIntervalMs: config.progressIntervalMs,
    signal: io.signal,
  };
}

export interface RestoreStepResult {
  key: string;
  /** Bytes read from S3 (compressed). */
  bytes: number;
  durationMs: number;
}

/** What is done to an object's bytes on their way to the reader. */
export type ObjectReading = Pick<RestoreStep, 'compression' | 'filter' | 'completionMarker'>;

/** The object to read: its key, and its SHA-256 when the backup's manifest recorded one (checked at the end). */
export interface ObjectRef {
  key: string;
  sha256?: string;
}

interface Sink {
  stream: Writable;
  /** Rejects when the reader failed (the command's exit code). */
  finished: Promise<void>;
  kill(reason: string): void;
  what: string;
}

/** The last bytes held back until the end is known good: the command never reads the end of a bad stream. */
const HELD_BACK_BYTES = 64 * 1024;

const READER_EXIT_GRACE_MS = 5000;

async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Streams one object into the step's command and waits for the command's verdict. */
export async function streamObjectToCommand(step: RestoreStep, ref: ObjectRef, ctx: RestoreStepContext): Promise<RestoreStepResult> {
  const what = step.command.argv[0];
  if (zstdStraightIntoCommand(step, ref)) {
    const url = s3Url(ctx.bucket, ref.key);
    return streamObject({ compression: 'none' }, ref, ctx, () => openZstdIntoCommand(step.command, url, ctx.mask));
  }
  return streamObject(step, ref, ctx, async () => {
    const running = await startCommand(step.command, { mask: ctx.mask, stdin: 'pipe', what });
    if (!running.stdin) throw new Error(`${what} has no stdin`);
    // The tools print little (notices, SELECT results of a dump); read it so they never block on a full pipe.
    running.stdout.resume();
    return { stream: running.stdin, finished: running.finished, kill: running.kill, what };
  });
}

/**
 * zstd -d may write straight into the command, node passing on only the compressed bytes (passing on the decompressed
 * ones took CPU the restore tool needs: BENCHMARKS.md, "Restores: zstd -d straight into pg_restore"), when nothing in
 * node reads the decompressed bytes (no filter, no completion marker) and the object's SHA-256 is known: the gate
 * then holds back the compressed tail until the whole object is proven to be the one backed up, so zstd cannot write
 * the end of anything else. Without the SHA-256, zstd's own checksum would only be known after it wrote everything.
 */
function zstdStraightIntoCommand(step: RestoreStep, ref: ObjectRef): boolean {
  return step.compression === 'zstd' && !step.filter && !step.completionMarker && ref.sha256 !== undefined;
}

/**
 * The command, its stdin a pipe that zstd -d writes into. Node keeps its own copy of the pipe's write end until zstd
 * has exited 0: the command sees the end of its input only then. A zstd that fails (or is stopped) leaves the command
 * waiting for more, to be stopped, never at an end it could take for a whole one.
 */
async function openZstdIntoCommand(command: Command, url: string, mask: Masker): Promise<Sink> {
  const what = command.argv[0];
  const reader = await startCommand(command, { mask, stdin: 'fifo', what });
  reader.stdout.resume(); // as streamObjectToCommand: the tools print little, but must never block on it
  const pipe = reader.stdinPipe;
  if (!pipe) throw new Error(`${what} has no stdin pipe`);
  // Nobody needs the write end once the reader is gone (its whole process group: command.ts kills what it leaves).
  const closeWhenReaderGone = () => void reader.finished.catch(() => {}).finally(pipe.close);
  let zstd: RunningCommand<null> & { stdin: Writable };
  try {
    const started = await startCommand({ argv: ZSTD_DECOMPRESS_ARGV }, { mask, stdin: 'pipe', stdout: { fd: pipe.fd }, what: 'zstd -d' });
    if (!started.stdin) {
      started.kill('was stopped: it has no stdin');
      throw new Error('zstd has no stdin');
    }
    zstd = { ...started, stdin: started.stdin };
  } catch (err) {
    reader.kill('was stopped: zstd -d could not start');
    closeWhenReaderGone();
    throw err;
  }
  closeWhenReaderGone();
  /** Why we stopped the two (a failure elsewhere, an interrupt, --timeout): then the command's own ending says it. */
  let stopped = false;
  const finished = (async () => {
    try {
      await zstd.finished;
    } catch (err) {
      if (stopped || (err instanceof CommandFailed && err.signal === 'SIGPIPE')) {
        // Stopped by us, or the command closed its stdin first: its own exit says why, or that it stopped early.
        await reader.finished;
        throw new Error(`${what} stopped reading before the end of the object`);
      }
      reader.kill('was stopped because its input failed');
      await reader.finished.catch(() => {});
      throw decompressFailed(err, url, mask, err instanceof CommandFailed ? err.stderrTail : '');
    }
    if (!zstd.stdin.writableFinished) {
      // zstd saw its input end without node ending it (its stdin destroyed by a failure): what it wrote is not all.
      reader.kill('was stopped because its input failed');
      await reader.finished;
    }
    pipe.close();
    await reader.finished;
  })();
  finished.catch(() => {}); // awaited by streamObject; not unhandled meanwhile
  const kill = (reason: string) => {
    stopped = true;
    reader.kill(reason); // first: it must not be the one left reading when zstd goes
    zstd.kill(reason);
  };
  return { stream: zstd.stdin, finished, kill, what };
}

/**
 * Reads one object whole, through the same checks, into nothing: does it decompress, and is it complete? With a
 * counter, the decompressed bytes are also counted (MongoDB archives: checked and counted by their parser); a
 * counter that rejects the stream fails the read.
 */
export async function readObjectThrough(
  reading: ObjectReading,
  ref: ObjectRef,
  ctx: RestoreStepContext,
  counter?: StreamRowCounter,
): Promise<RestoreStepResult & { counts?: RowCounts }> {
  let counts: RowCounts | undefined;
  const result = await streamObject(reading, ref, ctx, async () => {
    if (!counter) {
      return { stream: new Writable({ write: (_chunk, _enc, done) => done() }), finished: Promise.resolve(), kill: () => {}, what: 'the check' };
    }
    let settle!: (err?: Error) => void;
    const finished = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    finished.catch(() => {}); // awaited by streamObject; not unhandled meanwhile
    const fail = (err: unknown, done: (err?: Error) => void) => {
      const error = err instanceof Error ? err : new Error(String(err));
      settle(error);
      done(error);
    };
    const stream = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _enc, done) => {
        try {
          counter.push(chunk);
          done();
        } catch (err) {
          fail(err, done);
        }
      },
      final: (done) => {
        Promise.resolve()
          .then(() => counter.end())
          .then(
            (c) => {
              counts = c;
              settle();
              done();
            },
            (err: unknown) => fail(err, done),
          );
      },
    });
    return { stream, finished, kill: () => {}, what: 'the check' };
  });
  return { ...result, ...(counts ? { counts } : {}) };
}

type Stage = 's3' | 'decompress' | 'filter' | 'check' | 'reader' | 'stopped';

async function streamObject(reading: ObjectReading, ref: ObjectRef, ctx: RestoreStepContext, openSink: () => Promise<Sink>): Promise<RestoreStepResult> {
  const started = monotonicNow();
  const { key } = ref;
  const url = s3Url(ctx.bucket, key);
  let body: Readable;
  let expectedBytes: number | undefined;
  try {
    const object = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }), { abortSignal: ctx.signal });
    if (!object.Body) throw new Error('S3 returned no body');
    body = object.Body as Readable;
    expectedBytes = object.ContentLength;
  } catch (err) {
    throw new RestoreFailed(`cannot read ${url}: ${ctx.mask(describeS3Error(err))}`);
  }

  let sink: Sink;
  let decompressor: Awaited<ReturnType<typeof createDecompressor>>;
  try {
    decompressor = await createDecompressor(reading.compression, ctx.mask);
    sink = await openSink();
  } catch (err) {
    body.destroy();
    if (err instanceof RestoreFailed) throw err;
    throw err instanceof CommandFailed ? new RestoreFailed(err.message, err.stderrTail) : new RestoreFailed(`restoring ${url}: ${ctx.mask(errorText(err))}`);
  }

  const digest = ref.sha256 ? createHash('sha256') : undefined;
  const meter = new Meter(digest);
  const filter = reading.filter ? new LineFilterStream(reading.filter()) : undefined;
  const gate = new Gate(async (tail) => {
    // zstd's output just ends when it fails: its exit code decides, before the reader sees the end.
    await decompressor.finished;
    if (expectedBytes !== undefined && meter.bytes !== expectedBytes) {
      throw new Error(`read ${meter.bytes} of its ${expectedBytes} bytes`);
    }
    const sha256 = digest?.digest('hex');
    if (sha256 !== undefined && sha256 !== ref.sha256) {
      throw new Error(`its SHA-256 is ${sha256}, but the backup's manifest recorded ${ref.sha256}`);
    }
    if (reading.completionMarker && !endsWithMarker(tail, reading.completionMarker)) {
      throw new Error(`it is truncated: its end lacks '${reading.completionMarker}'`);
    }
  });

  let failure: { stage: Stage; err: unknown } | undefined;
  const stopAll = (reason: string) => {
    sink.kill(reason);
    decompressor.kill(reason);
  };
  const failAt = (stage: Stage) => (err: unknown) => {
    if (failure) return;
    failure = { stage, err };
    // Stop the reader before its stdin is closed: it must not take a cut stream for a whole one.
    if (stage !== 'reader') stopAll('was stopped because its input failed');
  };
  // Registered before pipeline() registers its own, so they run first.
  body.on('error', failAt('s3'));
  meter.on('error', failAt('s3'));
  decompressor.stream.on('error', failAt('decompress'));
  filter?.on('error', failAt('filter'));
  gate.on('error', failAt('check'));
  // The reader's error, or its stdin closed early: a command that exits before Node writes to it gets its stdin closed
  // with no EPIPE; the pipeline then breaks the other stages with "Premature close", and the command, not they, must
  // be named.
  finished(sink.stream, (err) => {
    if (err) failAt('reader')(err);
  });

  const stop = (reason: string) => {
    if (failure) return;
    failAt('stopped')(new Error(reason));
    body.destroy(new Error(reason));
  };
  // At once, and before the SDK's own abort (it listens to the same signal) breaks the body with a bare "aborted".
  const onInterrupt = () => stop('was interrupted');
  if (ctx.signal.aborted) onInterrupt();
  else ctx.signal.addEventListener('abort', onInterrupt, { once: true });

  let lastProgress = started;
  const watchdog = setInterval(() => {
    const now = monotonicNow();
    if (now > ctx.deadline) stop('timed out (--timeout)');
    if (now - lastProgress >= ctx.progressIntervalMs) {
      lastProgress = now;
      ctx.log.info({ key, bytes: meter.bytes, of: expectedBytes, mibps: mibPerSecond(meter.bytes, now - started) }, 'restore progress');
    }
  }, Math.min(1000, ctx.progressIntervalMs));

  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [body, meter, decompressor.stream, ...(filter ? [filter] : []), gate, sink.stream];
  try {
    await new Promise<void>((resolve) => {
      // The pipeline's own error is only a fallback: the listeners above say which stage failed first.
      pipeline(stages as unknown as [Readable, Writable], (err) => {
        if (err) failAt('reader')(err);
        resolve();
      });
    });
    if (failure) {
      // A reader that broke its stdin is exiting (or hung): give it a moment to say why before stopping it.
      if (failure.stage === 'reader') await settledWithin(sink.finished, READER_EXIT_GRACE_MS);
      stopAll('was stopped because its input failed');
      const [reader, decompressed] = await Promise.allSettled([sink.finished, decompressor.finished]);
      throw describeFailure(failure, url, sink.what, reader, decompressed, ctx.mask);
    }
    try {
      await sink.finished;
    } catch (err) {
      // Stopped (an interrupt, --timeout) after node had passed on the last byte: said as the stop, not as what
      // the stop broke.
      if (failure) throw describeFailure(failure, url, sink.what, { status: 'rejected', reason: err }, { status: 'fulfilled', value: undefined }, ctx.mask);
      throw toRestoreFailed(err, `restoring ${url}: `);
    }
    return { key, bytes: meter.bytes, durationMs: msSince(started) };
  } finally {
    clearInterval(watchdog);
    ctx.signal.removeEventListener('abort', onInterrupt);
  }
}

function toRestoreFailed(err: unknown, prefix: string): RestoreFailed {
  if (err instanceof RestoreFailed) return err;
  if (err instanceof CommandFailed) return new RestoreFailed(`${prefix}${err.message}`, err.stderrTail);
  return new RestoreFailed(`${prefix}${errorText(err)}`);
}

/**
 * zstd's failure that says nothing about the object: zstd missing, or killed by a signal nobody here sent (the OOM
 * killer). SIGPIPE is its reader going away, which the reader's own ending explains.
 */
function notTheObjectsFault(err: unknown): err is CommandFailed {
  return err instanceof CommandNotStarted || (err instanceof CommandFailed && err.signal !== undefined && err.signal !== 'SIGPIPE');
}

/**
 * A failed decompressor, said as an operator can act on it: the object does not decompress, or (zstd missing, or
 * killed from outside) it is not the object's fault. For zstd -d beside node and straight into the command alike.
 */
function decompressFailed(err: unknown, url: string, mask: Masker, tail = ''): RestoreFailed {
  if (notTheObjectsFault(err)) return new RestoreFailed(`restoring ${url}: ${mask(err.message)}`, tail);
  return new RestoreFailed(`${url} is corrupt or truncated: it does not decompress (${mask(errorText(err))})`, tail);
}

/** The first failure, said the way an operator can act on it; the reader's stderr is kept for the log. */
function describeFailure(
  failure: { stage: Stage; err: unknown },
  url: string,
  reader: string,
  readerResult: PromiseSettledResult<void>,
  decompressorResult: PromiseSettledResult<void>,
  mask: Masker,
): RestoreFailed {
  // A failed zstd breaks its pipes too: its own exit status and stderr say more than EPIPE does.
  const decompressorError = decompressorResult.status === 'rejected' ? (decompressorResult.reason as Error) : undefined;
  if (notTheObjectsFault(decompressorError)) return decompressFailed(decompressorError, url, mask);
  const cause = failure.stage === 'decompress' && decompressorError ? decompressorError : failure.err;
  const message = mask(errorText(cause));
  const readerError = readerResult.status === 'rejected' ? readerResult.reason : undefined;
  const tail = readerError instanceof FailureWithStderr ? readerError.stderrTail : '';
  switch (failure.stage) {
    case 'reader':
      // The command ended (or broke its stdin) before it had read everything: its own error says why.
      if (readerError) return toRestoreFailed(readerError, `restoring ${url}: `);
      return new RestoreFailed(`restoring ${url}: ${reader} stopped reading before the end of the object (${message})`);
    case 's3':
      return new RestoreFailed(`reading ${url} failed: ${mask(describeS3Error(failure.err))}`, tail);
    case 'decompress':
      return decompressFailed(cause, url, mask, tail);
    case 'check':
      return new RestoreFailed(`${url} is corrupt or truncated: ${message}`, tail);
    case 'filter':
      return new RestoreFailed(`restoring ${url}: ${message}`, tail);
    case 'stopped':
      return new RestoreFailed(`restoring ${url} ${message}`, tail);
  }
}

function endsWithMarker(tail: Buffer, marker: string): boolean {
  const text = tail.toString('utf8');
  return text.startsWith(marker) || text.includes(`\n${marker}`);
}

/** Passes everything but the last HELD_BACK_BYTES at once; those only after `check` accepted the end. */
class Gate extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly check: (tail: Buffer) => Promise<void>) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    while (this.held.length > 1 && this.heldBytes - this.held[0]!.length >= HELD_BACK_BYTES) {
      const first = this.held.shift()!;
      this.heldBytes -= first.length;
      this.push(first);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    const tail = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.check(tail).then(
      () => done(null, tail),
      (err: unknown) => done(err as Error),
    );
  }
}

/**
 * Applies a LineFilter to a byte stream. Lines the filter returns unchanged keep their original bytes (whatever their
 * encoding); only edited lines are re-encoded as UTF-8.
 */
class LineFilterStream extends Transform {
  private partial: Buffer[] = [];

  constructor(private readonly lineFilter: LineFilter) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        const line = this.partial.length ? Buffer.concat([...this.partial, piece]) : piece;
        this.partial = [];
        this.emitLine(line, true);
        start = nl + 1;
      }
      if (start < chunk.length) this.partial.push(chunk.subarray(start));
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.partial.length) this.emitLine(Buffer.concat(this.partial), false);
      this.partial = [];
      this.lineFilter.end?.();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private emitLine(line: Buffer, newline: boolean): void {
    const text = line.toString('utf8');
    const out = this.lineFilter.line(text);
    if (out === null) return;
    const bytes = out === text ? line : Buffer.from(out, 'utf8');
    this.push(newline ? Buffer.concat([bytes, NEWLINE]) : bytes);
  }
}

const NEWLINE = Buffer.from('\n');
