// One dump step: the dump's stdout → (counting taps) → (compression) → S3 multipart upload. Success means the dump exited 0,
// the upload completed, and HeadObject shows the expected size and encryption. Anything else aborts the upload.
import { pipeline } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { DumpStep } from '../engines/types.js';
import { BackupFailed, CommandFailed } from '../errors.js';
import type { S3Settings } from '../storage/s3.js';
import { deleteObjects, headObject, sseMismatch } from '../storage/s3.js';
import { s3Url } from '../storage/layout.js';
import { CleanupFailed, describeLeftBehind, describeS3Error } from '../storage/s3-errors.js';
import { uploadLeftOpen, uploadStream } from '../storage/multipart.js';
import type { Masker } from '../util/mask.js';
import { formatDuration } from '../util/format.js';
import { startCommand, type RunningCommand } from './command.js';
import { createCompressor, type Compressor } from './compress.js';
import { countedSource, feed } from './counted-source.js';
import type { ByteSource } from './pipe-reader.js';
import { startRowCounting, type RowCountResult } from './row-counting.js';
import { monotonicNow, msSince } from '../util/time.js';

const NO_COMPRESSOR: Pick<Compressor, 'finished' | 'kill'> = { finished: Promise.resolve(), kill: () => {} };

export interface StepContext {
  client: S3Client;
  s3: S3Settings;
  mask: Masker;
  log: Logger;
  stallTimeoutMs: number;
  /** When the backup is killed (the overall --timeout), on the monotonic clock (util/time.ts). */
  deadline: number;
  progressIntervalMs: number;
  signal: AbortSignal;
  /** Count rows per table as the engine allows (BACKUP_ROW_COUNTS). */
  countRows: boolean;
}

export interface StepResult {
  key: string;
  bytes: number;
  parts: number;
  sha256: string;
  durationMs: number;
  /** Rows per table in this object, or why they could not be counted; absent when not counted at all. */
  rows?: RowCountResult;
}

const mib = (bytes: number) => bytes / 1024 / 1024;
export const mibPerSecond = (bytes: number, ms: number) => Number((mib(bytes) / Math.max(ms / 1000, 0.001)).toFixed(1));

export async function streamStepToS3(step: DumpStep, key: string, ctx: StepContext): Promise<StepResult> {
  const started = monotonicNow();
  const what = step.command.argv[0];
  const counting = await startRowCounting(ctx.countRows ? step.rowCounting : undefined, step.command, ctx.log);
  // The dump's stdout is read with reused memory (PipeReader) unless something in between needs a stream: a counter
  // that keeps chunks (MongoDB's gunzip), or the globals (a few KiB: for them the FIFO's mkfifo process, ~5 ms, is not
  // worth it). Its bytes are stored as they are, or fed to the compressor; zstd reads them straight from the dump
  // through a pipe of their own when nothing counts rows in the stream (PostgreSQL counts in its snapshot).
  const { taps } = counting;
  const readDump = !step.small && taps.every((tap) => tap.borrowsChunks);
  let dump: Pick<RunningCommand<unknown>, 'finished' | 'kill'>;
  let output: ByteSource;
  let compressor: Pick<Compressor, 'finished' | 'kill'> = NO_COMPRESSOR;
  let feeding: Promise<void> = Promise.resolve();
  try {
    if (readDump && step.compression === 'none') {
      const dumpToReader = await startCommand(counting.command, { mask: ctx.mask, what, stdout: 'reader' });
      dump = dumpToReader;
      output = taps.length ? countedSource(dumpToReader.stdout, taps) : dumpToReader.stdout;
    } else {
      // The compressor first: the dump's stdout must be connected the moment the dump starts (command.ts).
      const compressing = await createCompressor(step.compression, ctx.mask, { fromPipe: taps.length === 0 });
      compressor = compressing;
      output = compressing.output;
      const { input } = compressing;
      const dumpFailed = (err: unknown): never => {
        compressing.kill('was stopped: the dump could not start');
        throw err;
      };
      if ('pipe' in input) {
        dump = await startCommand(counting.command, { mask: ctx.mask, what, stdout: { fd: input.pipe.fd } }).finally(input.pipe.close).catch(dumpFailed);
      } else if (readDump) {
        const dumpToReader = await startCommand(counting.command, { mask: ctx.mask, what, stdout: 'reader' }).catch(dumpFailed);
        dump = dumpToReader;
        feeding = feed(dumpToReader.stdout, taps, input.stream);
        // Awaited before the upload completes; not unhandled meanwhile.
        feeding.catch(() => {});
      } else {
        const dumpToStream = await startCommand(counting.command, { mask: ctx.mask, what }).catch(dumpFailed);
        dump = dumpToStream;
        pipeline([dumpToStream.stdout, ...taps, input.stream], () => {
          /* errors surface through the upload and the exit codes */
        });
      }
    }
  } catch (err) {
    await counting.abort();
    throw err;
  }
  const stopAll = (reason: string) => {
    dump.kill(reason);
    compressor.kill(reason);
  };

  let lastProgress = started;
  const watchdog = setInterval(() => {
    const now = monotonicNow();
    if (ctx.signal.aborted) stopAll('was interrupted');
    else if (now > ctx.deadline) stopAll('timed out (--timeout)');
    else if (now - output.lastActivity > ctx.stallTimeoutMs) {
      stopAll(`stalled: no output for ${formatDuration(now - output.lastActivity)} (--stall-timeout)`);
    }
    if (now - lastProgress >= ctx.progressIntervalMs) {
      lastProgress = now;
      ctx.log.info({ key, bytes: output.bytes, mibps: mibPerSecond(output.bytes, now - started) }, 'progress');
    }
  }, Math.min(1000, ctx.progressIntervalMs));

  let rows: RowCountResult | undefined;
  try {
    const uploaded = await uploadStream(output, {
      client: ctx.client,
      bucket: ctx.s3.bucket,
      key,
      sse: ctx.s3.sse,
      partSizeBytes: ctx.s3.partSizeBytes,
      partChecksums: ctx.s3.checksum === 'WHEN_SUPPORTED',
      queueSize: ctx.s3.queueSize,
      maxParts: ctx.s3.maxParts,
      noOverwrite: ctx.s3.conditionalWrites,
      ...(step.sizeHint ? { sizeHint: step.sizeHint } : {}),
      signal: ctx.signal,
      // The dump's exit code decides, not the end of its stdout (a killed pg_dump also ends its stdout).
      beforeComplete: async () => {
        await dump.finished;
        await compressor.finished;
        await feeding;
        rows = await counting.result();
      },
    });
    await verifyObject(ctx, key, uploaded.bytes);
    return { key, ...uploaded, durationMs: msSince(started), ...(rows ? { rows } : {}) };
  } catch (err) {
    await counting.abort();
    const open = uploadLeftOpen(err);
    if (open) {
      ctx.log.error(
        { leftBehind: open },
        `could not abort ${ctx.mask(describeLeftBehind(ctx.s3.bucket, open))}: its parts stay until aborted (docs/iam-policy.md)`,
      );
    }
    const failed = (failure: BackupFailed) => {
      if (open) failure.leftBehind.push(open);
      return failure;
    };
    if (ctx.signal.aborted) {
      stopAll('was interrupted');
      await Promise.allSettled([dump.finished, compressor.finished, feeding]);
      throw failed(new BackupFailed('interrupted'));
    }
    // From beforeComplete: the dump or the compressor failed (CommandFailed), or the stream is not restorable
    // (BackupFailed); either says how.
    if (err instanceof CommandFailed) throw failed(new BackupFailed(err.message, err.stderrTail));
    if (err instanceof BackupFailed) throw failed(err);
    // The upload failed: the dump must not stay blocked on a full pipe.
    stopAll('was stopped because the upload failed');
    await Promise.allSettled([dump.finished, compressor.finished, feeding]);
    throw failed(new BackupFailed(`upload to ${s3Url(ctx.s3.bucket, key)} failed: ${ctx.mask(describeS3Error(err))}`));
  } finally {
    clearInterval(watchdog);
  }
}

/** Rule 1 of design.md: the object must be there, whole, and encrypted as configured. */
async function verifyObject(ctx: StepContext, key: string, bytes: number): Promise<void> {
  const head = await headObject(ctx.client, ctx.s3.bucket, key).catch((err: unknown) => {
    throw new BackupFailed(`checking the stored object ${s3Url(ctx.s3.bucket, key)} failed: ${ctx.mask(describeS3Error(err))}`);
  });
  const problems: string[] = [];
  if (head.ContentLength !== bytes) problems.push(`size is ${head.ContentLength} bytes, ${bytes} were sent`);
  const wrongEncryption = sseMismatch(head, ctx.s3.sse);
  if (wrongEncryption) problems.push(wrongEncryption);
  if (problems.length) {
    const failure = new BackupFailed(`object ${s3Url(ctx.s3.bucket, key)} failed verification: ${problems.join('; ')}`);
    await deleteObjects(ctx.client, ctx.s3.bucket, [key]).catch((e: unknown) => {
      ctx.log.error({ err: ctx.mask(String(e)) }, 'could not delete the object that failed verification');
      if (e instanceof CleanupFailed) failure.leftBehind.push(...e.leftBehind);
    });
    throw failure;
  }
}
