// Streams a Readable of unknown length into one S3 multipart upload with server-side encryption.
//
// Why not lib-storage's Upload: it uses one fixed part size for the whole stream (and rejects parts of any other
// size), so a stream of unknown length either gets small parts and fails at the 10,000th, or huge parts and huge
// memory. Here parts start at the configured floor and double every `maxParts / 10` parts, so the first
// ~maxParts/10 × floor bytes (7.8 GiB at 8 MiB × 10,000) use floor-sized parts, and the stream can grow to
// ~1023 × that (8 TiB) before the part limit is reached. Memory stays ≈ (queueSize + 1) × current part size.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { formatBytes } from '../util/duration.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
const DOUBLINGS = 10;

export type Sse = { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId: string };

export interface MultipartOptions {
  client: S3Client;
  bucket: string;
  key: string;
  sse: Sse;
  /** Size of the first parts (the floor); raised when sizeHint says the object will be bigger. */
  partSizeBytes: number;
  queueSize: number;
  maxParts: number;
  /** Expected size, when known: parts then start big enough for it to fit in maxParts / 2. */
  sizeHint?: number;
  contentType?: string;
  /** Called once all bytes are uploaded and before completing: throw to abort (e.g. the dump exited ≠ 0). */
  beforeComplete?: () => Promise<void>;
  signal?: AbortSignal;
  onPartUploaded?: (info: { partNumber: number; bytes: number; totalBytes: number }) => void;
}

export interface MultipartResult {
  bytes: number;
  parts: number;
  sha256: string;
}

/** The part-size schedule: floor (or what the hint needs), doubling every maxParts/10 parts, capped at 5 GiB. */
export function partSizeFor(partNumber: number, opts: Pick<MultipartOptions, 'partSizeBytes' | 'maxParts' | 'sizeHint'>): number {
  const step = Math.max(1, Math.floor(opts.maxParts / DOUBLINGS));
  const hinted = opts.sizeHint ? Math.ceil((opts.sizeHint * 2) / opts.maxParts) : 0;
  const floor = Math.max(MIN_PART_SIZE, opts.partSizeBytes, Math.min(hinted, MAX_PART_SIZE));
  const doublings = Math.min(Math.floor((partNumber - 1) / step), 30);
  return Math.min(floor * 2 ** doublings, MAX_PART_SIZE);
}

/** How many bytes fit before the part limit, with this schedule. */
export function capacityOf(opts: Pick<MultipartOptions, 'partSizeBytes' | 'maxParts' | 'sizeHint'>): number {
  let total = 0;
  for (let n = 1; n <= opts.maxParts; n += 1) total += partSizeFor(n, opts);
  return total;
}

export async function uploadStream(source: Readable, opts: MultipartOptions): Promise<MultipartResult> {
  const { client, bucket, key } = opts;
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ContentType: opts.contentType ?? 'application/octet-stream',
      ServerSideEncryption: opts.sse.mode,
      ...(opts.sse.mode === 'aws:kms' ? { SSEKMSKeyId: opts.sse.kmsKeyId } : {}),
    }),
    { abortSignal: opts.signal },
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('S3 returned no UploadId');

  const hash = createHash('sha256');
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown;
  let totalBytes = 0;
  let partNumber = 0;

  const send = (body: Buffer) => {
    partNumber += 1;
    const number = partNumber;
    const task = client
      .send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: body.length }),
        { abortSignal: opts.signal },
      )
      .then((out) => {
        completed.push({
          PartNumber: number,
          ETag: out.ETag,
          ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}),
          ...(out.ChecksumCRC32C ? { ChecksumCRC32C: out.ChecksumCRC32C } : {}),
          ...(out.ChecksumSHA1 ? { ChecksumSHA1: out.ChecksumSHA1 } : {}),
          ...(out.ChecksumSHA256 ? { ChecksumSHA256: out.ChecksumSHA256 } : {}),
        });
        opts.onPartUploaded?.({ partNumber: number, bytes: body.length, totalBytes });
      })
      .catch((err: unknown) => {
        firstError ??= err;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (firstError) break;
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      totalBytes += chunk.length;
      const target = partSizeFor(partNumber + 1, opts);
      if (pendingBytes >= target) {
        if (partNumber + 1 > opts.maxParts) throw tooBig(opts);
        const all = Buffer.concat(pending, pendingBytes);
        pending = [all.subarray(target)];
        pendingBytes = all.length - target;
        send(all.subarray(0, target));
        // Backpressure: stop reading the dump while the queue is full.
        while (inFlight.size >= opts.queueSize && !firstError) await Promise.race(inFlight);
      }
    }
    if (!firstError && (pendingBytes > 0 || partNumber === 0)) {
      if (partNumber + 1 > opts.maxParts) throw tooBig(opts);
      send(Buffer.concat(pending, pendingBytes));
    }
    pending = [];
    await Promise.all(inFlight);
    if (firstError) throw firstError;
    await opts.beforeComplete?.();
    completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed } }),
    );
    return { bytes: totalBytes, parts: partNumber, sha256: hash.digest('hex') };
  } catch (err) {
    await Promise.allSettled(inFlight);
    // A fresh request without the caller's signal: the abort must go out even when the run is being interrupted.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => {
        /* lifecycle rule AbortIncompleteMultipartUpload is the backstop; the caller reports the original error */
      });
    throw err;
  }
}

function tooBig(opts: MultipartOptions): Error {
  return new Error(
    `the dump is larger than ${formatBytes(capacityOf(opts))}, the most that fits in ${opts.maxParts} parts starting at ` +
      `${Math.round(opts.partSizeBytes / 1024 / 1024)} MiB; raise BACKUP_S3_PART_SIZE_MIB`,
  );
}
