// Streams a Readable of unknown length into one S3 multipart upload with server-side encryption.
//
// Why not lib-storage's Upload: it uses one fixed part size for the whole stream (and rejects parts of any other
// size), so a stream of unknown length either gets small parts and fails at the 10,000th, or huge parts and huge
// memory. Here parts start at the configured floor and double every `maxParts / 10` parts, so the first
// ~maxParts/10 × floor bytes (7.8 GiB at 8 MiB × 10,000) use floor-sized parts, and the stream can grow to
// ~1023 × that (8 TiB) before the part limit is reached. A stream that ends within its first part (the globals, small
// databases) is stored with one PutObject instead: two requests fewer.
//
// Memory: the parts are queueSize buffers, reused from part to part (chunks are copied straight into the part being
// filled; no per-part allocation, so no page faults and no garbage to collect per part), i.e. queueSize × part size:
// 32 MiB at the defaults. The bytes in flight stay within that budget when parts grow: at twice the size, half as
// many parts are in flight (at least one, while the next is filled). The figures: BENCHMARKS.md.
//
// CPU: every byte is hashed (SHA-256 of the object, logged) and, with BACKUP_S3_CHECKSUM=WHEN_SUPPORTED, CRC32'd per
// part, both on the chunks as they arrive, while they are in cache; the SDK then neither checksums nor hashes the
// 8 MiB parts again (see unsignedPayload).
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { formatBytes } from '../util/format.js';
import { createObject, sseRequest, type Sse, type StoredEncryption } from './s3.js';
import { leftBehindOf, s3ErrorOf, type LeftBehind } from './s3-errors.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
const DOUBLINGS = 10;
const FIRST_BUFFER = 64 * 1024;
/** zlib.crc32 (Node ≥ 20.15); without it the SDK computes the checksums, as it does by default. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;


export interface MultipartOptions {
  client: S3Client;
  bucket: string;
  key: string;
  sse: Sse;
  /** Size of the first parts (the floor); raised when sizeHint says the object will be bigger. */
  partSizeBytes: number;
  /** Parts in memory (in flight, and the one being filled) at the first part size; the byte budget for bigger ones. */
  queueSize: number;
  maxParts: number;
  /** Refuse to overwrite an existing key (If-None-Match: * on PutObject and CompleteMultipartUpload). */
  noOverwrite?: boolean;
  /** Expected size, when known: parts then start big enough for it to fit in maxParts / 2. */
  sizeHint?: number;
  contentType?: string;
  /** Called once all bytes are uploaded and before completing: throw to abort (e.g. the dump exited ≠ 0). */
  beforeComplete?: () => Promise<void>;
  /**
   * Stops the upload (it is aborted) until the write that creates the object is sent; that write is then waited for,
   * so that the caller knows whether S3 stored the object.
   */
  signal?: AbortSignal;
  onPartUploaded?: (info: { partNumber: number; bytes: number; totalBytes: number }) => void;
  /**
   * Send a CRC32 of every part (what the SDK does by default, BACKUP_S3_CHECKSUM=WHEN_SUPPORTED), computed here on
   * the chunks as they arrive rather than by the SDK over each finished part.
   */
  partChecksums?: boolean;
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

/**
 * How many part buffers may exist at once for parts of `size`: queueSize at the first size, then as many as fit in
 * the same bytes, but at least two (one in flight while the next is filled) unless queueSize is 1.
 */
export function buffersFor(size: number, opts: Pick<MultipartOptions, 'partSizeBytes' | 'maxParts' | 'sizeHint' | 'queueSize'>): number {
  const budget = opts.queueSize * partSizeFor(1, opts);
  return Math.max(Math.min(opts.queueSize, 2), Math.floor(budget / size));
}

/** How many bytes fit before the part limit, with this schedule. */
export function capacityOf(opts: Pick<MultipartOptions, 'partSizeBytes' | 'maxParts' | 'sizeHint'>): number {
  let total = 0;
  for (let n = 1; n <= opts.maxParts; n += 1) total += partSizeFor(n, opts);
  return total;
}

/**
 * `source` may lend its chunks (PipeReader): each one is used only until the next is asked for (copied into a part,
 * hashed), never kept.
 */
export async function uploadStream(source: AsyncIterable<Buffer>, opts: MultipartOptions): Promise<MultipartResult> {
  const { client, bucket, key } = opts;
  const objectSettings = {
    Bucket: bucket,
    Key: key,
    ContentType: opts.contentType ?? 'application/octet-stream',
    ...sseRequest(opts.sse),
  };
  const hash = createHash('sha256');
  const ifNoneMatch = opts.noOverwrite ? { IfNoneMatch: '*' } : {};
  const crc = opts.partChecksums ? nativeCrc32 : undefined;
  const checksumOf = (value: number) => (crc ? { ChecksumAlgorithm: 'CRC32' as const, ChecksumCRC32: crc32Base64(value) } : {});
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const spare: Buffer[] = [];
  let uploadId: string | undefined;
  let firstError: unknown;
  let totalBytes = 0;
  let partNumber = 0;

  // The write that creates the object (PutObject, or CompleteMultipartUpload), once every byte is read: never cut short
  // by the signal, which stops the upload before it instead. A request aborted after S3 read it may still be stored,
  // and the caller would not know it has an object to remove. Returns the stream's SHA-256.
  const createTheObject = async (write: () => Promise<StoredEncryption>): Promise<string> => {
    opts.signal?.throwIfAborted();
    const sha256 = hash.digest('hex');
    await createObject(client, bucket, key, write, { bytes: totalBytes, sha256 });
    return sha256;
  };

  // Created when the first part is full: a stream that fits in one part goes up as a single PutObject instead
  // (two requests fewer for each of the many small dumps: globals, small databases).
  const createUpload = async (): Promise<string> => {
    // Declaring the checksum up front (as the AWS CLI does) makes the parts' CRC32s the object's checksum: S3
    // checks them again at completion and stores the result. Left out, S3 (and moto) compute a full-object
    // CRC64NVME of their own at completion — moto by copying the whole object once more (BENCHMARKS.md).
    const created = await client.send(
      new CreateMultipartUploadCommand({ ...objectSettings, ...(crc ? { ChecksumAlgorithm: 'CRC32' as const } : {}) }),
      { abortSignal: opts.signal },
    );
    if (!created.UploadId) throw new Error('S3 returned no UploadId');
    return created.UploadId;
  };

  const send = (id: string, buffer: Buffer, length: number, checksum: number) => {
    partNumber += 1;
    const number = partNumber;
    const partChecksum = checksumOf(checksum);
    const command = new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId: id,
      PartNumber: number,
      Body: length === buffer.length ? buffer : buffer.subarray(0, length),
      ContentLength: length,
      ...partChecksum,
    });
    if (crc) command.middlewareStack.add(unsignedPayload, UNSIGNED_PAYLOAD_STEP);
    const task = client
      .send(command, { abortSignal: opts.signal })
      .then((out) => {
        // With a declared checksum, completion must list each part's CRC32: ours, not whatever came back.
        completed.push({ PartNumber: number, ETag: out.ETag, ChecksumCRC32: partChecksum.ChecksumCRC32 });
        // The request is over (retries included): its buffer can take the next part.
        if (spare.length < opts.queueSize) spare.push(buffer);
        opts.onPartUploaded?.({ partNumber: number, bytes: length, totalBytes });
      })
      .catch((err: unknown) => {
        firstError ??= err;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  try {
    // The part being filled: chunks are copied in as they come (while hot in cache, the hash and CRC are taken too).
    let part: Buffer | undefined;
    let target = 0;
    let filled = 0;
    let partCrc = 0;
    reading: for await (const chunk of source) {
      if (firstError) break;
      hash.update(chunk);
      totalBytes += chunk.length;
      for (let offset = 0; offset < chunk.length; ) {
        if (!part) {
          if (partNumber + 1 > opts.maxParts) throw tooBig(opts);
          target = partSizeFor(partNumber + 1, opts);
          // The first part starts small and grows as it fills, so small dumps never allocate a whole part.
          part = partNumber === 0 ? Buffer.allocUnsafeSlow(Math.min(target, FIRST_BUFFER)) : takeBuffer(spare, target);
          filled = 0;
          partCrc = 0;
        }
        if (filled === part.length) {
          const bigger = Buffer.allocUnsafeSlow(Math.min(target, part.length * 4));
          part.copy(bigger, 0, 0, filled);
          part = bigger;
        }
        const n = Math.min(chunk.length - offset, part.length - filled);
        chunk.copy(part, filled, offset, offset + n);
        if (crc) partCrc = crc(n === chunk.length ? chunk : chunk.subarray(offset, offset + n), partCrc);
        filled += n;
        offset += n;
        if (filled === target) {
          uploadId ??= await createUpload();
          send(uploadId, part, filled, partCrc);
          part = undefined;
          // Backpressure: stop reading the dump while the buffers are all in flight.
          const limit = buffersFor(target, opts);
          while (inFlight.size >= limit && !firstError) await Promise.race(inFlight);
          if (firstError) break reading;
        }
      }
    }
    if (!firstError && !uploadId) {
      // All of it fits in one part: one PutObject, once the dump has exited 0 (beforeComplete), so a failed dump
      // never leaves an object behind.
      await opts.beforeComplete?.();
      const command = new PutObjectCommand({
        ...objectSettings,
        Body: part ? part.subarray(0, filled) : Buffer.alloc(0),
        ContentLength: filled,
        ...checksumOf(partCrc),
        ...ifNoneMatch,
      });
      if (crc) command.middlewareStack.add(unsignedPayload, UNSIGNED_PAYLOAD_STEP);
      return { bytes: totalBytes, parts: 1, sha256: await createTheObject(() => client.send(command)) };
    }
    if (!firstError && part && uploadId) {
      if (partNumber + 1 > opts.maxParts) throw tooBig(opts);
      send(uploadId, part, filled, partCrc);
    }
    part = undefined;
    await Promise.all(inFlight);
    if (firstError) throw firstError;
    await opts.beforeComplete?.();
    completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const complete = new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed }, ...ifNoneMatch });
    return { bytes: totalBytes, parts: partNumber, sha256: await createTheObject(() => client.send(complete)) };
  } catch (err) {
    await Promise.allSettled(inFlight);
    // A fresh request without the caller's signal: the abort must go out even when the run is being interrupted.
    if (uploadId) {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      } catch (abortErr) {
        // Gone already (completed after all, or aborted): nothing is left open.
        if (s3ErrorOf(abortErr).code === 'NoSuchUpload') throw err;
        // The caller still gets the upload's own error (it says why the backup failed); the open upload rides on it.
        const thrown = typeof err === 'object' && err !== null ? err : new Error(String(err));
        leftOpen.set(thrown, leftBehindOf(key, abortErr, uploadId));
        throw thrown;
      }
    }
    throw err;
  }
}

const leftOpen = new WeakMap<object, LeftBehind>();

/**
 * The multipart upload uploadStream left open when it failed with `err` and could not abort the upload either (e.g.
 * s3:AbortMultipartUpload denied): its parts stay, billed and invisible to listings, until a lifecycle rule or an
 * operator aborts it. Undefined when there was no upload or it was aborted.
 */
export function uploadLeftOpen(err: unknown): LeftBehind | undefined {
  return typeof err === 'object' && err !== null ? leftOpen.get(err) : undefined;
}

/** A part buffer of `size`: a spare one when there is one of that size (parts grow: smaller ones are dropped). */
function takeBuffer(spare: Buffer[], size: number): Buffer {
  for (let buffer = spare.pop(); buffer; buffer = spare.pop()) if (buffer.length === size) return buffer;
  return Buffer.allocUnsafeSlow(size);
}

function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}

/**
 * When the part carries a CRC32, its payload is not hashed a second time for the SigV4 signature (UNSIGNED-PAYLOAD):
 * the checksum, which S3 verifies, already guards the bytes. The SDK does the same for streamed bodies (unsigned
 * payload, trailing checksum), and the AWS CLI for uploads over TLS. Hashing every 8 MiB part once more, out of
 * cache, costs CPU the dump needs (the figures: BENCHMARKS.md). Without checksums (WHEN_REQUIRED) the payload stays signed.
 */
const unsignedPayload = <Input extends object, Output extends object>(
  next: (args: { input: Input; request: unknown }) => Promise<{ output: Output; response: unknown }>,
) => async (args: { input: Input; request: unknown }) => {
  const request = args.request as { headers?: Record<string, string> };
  if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return next(args);
};
const UNSIGNED_PAYLOAD_STEP = { step: 'build', name: 'unsignedPayloadWithChecksum' } as const;

function tooBig(opts: MultipartOptions): Error {
  return new Error(
    `the dump is larger than ${formatBytes(capacityOf(opts))}, the most that fits in ${opts.maxParts} parts starting at ` +
      `${Math.round(opts.partSizeBytes / 1024 / 1024)} MiB; raise BACKUP_S3_PART_SIZE_MIB`,
  );
}
