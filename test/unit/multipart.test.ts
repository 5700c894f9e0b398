// The uploader against a fake S3 client: what it sends (parts, sizes, CRC32s, one PutObject for small streams), in
// what order, how many parts are in memory at once, and what it does when something fails. moto does not verify the
// CRC32s it is sent, so they are checked here, against zlib, for awkward chunkings.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { partSizeFor, uploadLeftOpen, uploadStream, type MultipartOptions } from '../../src/storage/multipart.js';

const MiB = 1024 * 1024;

interface Sent {
  name: string;
  input: Record<string, unknown>;
  /** The body as it was when the request was sent. */
  body?: Buffer;
  middleware: string[];
  /** Sent with an abortSignal (the request is cut short when it fires). */
  abortable: boolean;
}

/** A client whose requests take a few ms each; checks that a part's buffer is not touched while it is in flight. */
function fakeClient(opts: { failPart?: number; abortAnswers?: string } = {}) {
  const sent: Sent[] = [];
  const events: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let inFlightBytes = 0;
  let maxInFlightBytes = 0;
  const reusedWhileInFlight: number[] = [];
  const client = {
    async send(
      command: { constructor: { name: string }; input: Record<string, unknown>; middlewareStack: { identify(): string[] } },
      sendOptions?: { abortSignal?: AbortSignal },
    ) {
      const name = command.constructor.name;
      const body = command.input.Body instanceof Uint8Array ? Buffer.from(command.input.Body) : undefined;
      sent.push({
        name,
        input: command.input,
        ...(body ? { body } : {}),
        middleware: command.middlewareStack.identify(),
        abortable: sendOptions?.abortSignal !== undefined,
      });
      events.push(name);
      if (name === 'CreateMultipartUploadCommand') return { UploadId: 'upload-1' };
      if (name === 'AbortMultipartUploadCommand' && opts.abortAnswers) throw Object.assign(new Error(opts.abortAnswers), { name: opts.abortAnswers });
      if (name === 'UploadPartCommand' || name === 'PutObjectCommand') {
        const size = body?.length ?? 0;
        inFlight += 1;
        inFlightBytes += size;
        maxInFlight = Math.max(maxInFlight, inFlight);
        maxInFlightBytes = Math.max(maxInFlightBytes, inFlightBytes);
        await new Promise((r) => setTimeout(r, 1 + Math.random() * 4));
        inFlight -= 1;
        inFlightBytes -= size;
        const number = command.input.PartNumber as number;
        if (body && !Buffer.from(command.input.Body as Uint8Array).equals(body)) reusedWhileInFlight.push(number);
        if (number !== undefined && number === opts.failPart) throw Object.assign(new Error('We encountered an internal error.'), { name: 'InternalError' });
        // No checksum in the answer: completion must list the uploader's own.
        return { ETag: `"etag-${number}"` };
      }
      return {};
    },
  };
  return {
    client: client as unknown as S3Client,
    sent,
    events,
    stats: () => ({ maxInFlight, maxInFlightBytes, reusedWhileInFlight }),
  };
}

/** `data` as a stream of chunks of random sizes up to maxChunk. */
function chunked(data: Buffer, maxChunk: number): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const n = Math.min(data.length - offset, 1 + Math.floor(Math.random() * maxChunk));
    chunks.push(data.subarray(offset, offset + n));
    offset += n;
  }
  return Readable.from(chunks);
}

const crcOf = (data: Buffer) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data) >>> 0);
  return bytes.toString('base64');
};

function options(client: S3Client, extra: Partial<MultipartOptions> = {}): MultipartOptions {
  return { client, bucket: 'b', key: 'k', sse: { mode: 'AES256' }, partSizeBytes: 5 * MiB, queueSize: 3, maxParts: 10_000, partChecksums: true, ...extra };
}

describe('uploadStream', () => {
  it('cuts the stream into parts of the schedule, each with the CRC32 of its bytes, and hashes the whole', async () => {
    for (const maxChunk of [1000, 64 * 1024, 7 * MiB]) {
      const data = randomBytes(23 * MiB + 12_345);
      const fake = fakeClient();
      const result = await uploadStream(chunked(data, maxChunk), options(fake.client));
      const parts = fake.sent.filter((s) => s.name === 'UploadPartCommand');
      expect(Buffer.concat(parts.map((p) => p.body!)).equals(data)).toBe(true);
      let offset = 0;
      for (const [i, part] of parts.entries()) {
        expect(part.input.PartNumber).toBe(i + 1);
        expect(part.body!.length).toBe(Math.min(partSizeFor(i + 1, options(fake.client)), data.length - offset));
        expect(part.input.ChecksumCRC32).toBe(crcOf(data.subarray(offset, offset + part.body!.length)));
        expect(part.input.ChecksumAlgorithm).toBe('CRC32');
        expect(part.middleware.some((m) => m.startsWith('unsignedPayloadWithChecksum'))).toBe(true);
        offset += part.body!.length;
      }
      expect(result).toEqual({ bytes: data.length, parts: 5, sha256: createHash('sha256').update(data).digest('hex') });
      const complete = fake.sent.find((s) => s.name === 'CompleteMultipartUploadCommand')!;
      expect((complete.input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4, 5]);
      // The checksum is declared up front and each part's CRC32 listed at completion, so it becomes the object's.
      expect(fake.sent.find((s) => s.name === 'CreateMultipartUploadCommand')!.input.ChecksumAlgorithm).toBe('CRC32');
      expect((complete.input.MultipartUpload as { Parts: { ChecksumCRC32?: string }[] }).Parts.map((p) => p.ChecksumCRC32)).toEqual(
        parts.map((p) => crcOf(p.body!)),
      );
      expect(fake.stats().reusedWhileInFlight).toEqual([]);
    }
  });

  it('keeps at most queueSize parts in memory, and no more bytes in flight when parts grow', async () => {
    const data = randomBytes(70 * MiB);
    const fake = fakeClient();
    // 20 parts: the size doubles every 2 parts (5, 5, 10, 10, 20, 20 MiB...).
    const opts = options(fake.client, { maxParts: 20, queueSize: 4 });
    await uploadStream(chunked(data, 256 * 1024), opts);
    const parts = fake.sent.filter((s) => s.name === 'UploadPartCommand');
    expect(parts.map((p) => p.body!.length / MiB)).toEqual([5, 5, 10, 10, 20, 20]);
    expect(fake.stats().maxInFlight).toBeLessThanOrEqual(4);
    // 4 × 5 MiB in flight at first; as parts grow, that budget, or two parts (one in flight while one fills).
    expect(fake.stats().maxInFlightBytes).toBeLessThanOrEqual(40 * MiB);
    expect(fake.stats().reusedWhileInFlight).toEqual([]);
  });

  it('leaves the checksums to the SDK (and the payload signed) without partChecksums', async () => {
    const fake = fakeClient();
    await uploadStream(chunked(randomBytes(11 * MiB), 64 * 1024), options(fake.client, { partChecksums: false }));
    for (const part of fake.sent.filter((s) => s.name === 'UploadPartCommand')) {
      expect(part.input.ChecksumCRC32).toBeUndefined();
      expect(part.middleware.some((m) => m.startsWith('unsignedPayloadWithChecksum'))).toBe(false);
    }
    expect(fake.sent.find((s) => s.name === 'CreateMultipartUploadCommand')!.input.ChecksumAlgorithm).toBeUndefined();
    const complete = fake.sent.find((s) => s.name === 'CompleteMultipartUploadCommand')!;
    expect((complete.input.MultipartUpload as { Parts: { ChecksumCRC32?: string }[] }).Parts.every((p) => p.ChecksumCRC32 === undefined)).toBe(true);
  });

  it('stores a stream that fits in one part with a single PutObject, after beforeComplete', async () => {
    for (const size of [0, 1, 100_000, 5 * MiB - 1]) {
      const data = randomBytes(size);
      const fake = fakeClient();
      const result = await uploadStream(chunked(data, 64 * 1024), {
        ...options(fake.client, { sse: { mode: 'aws:kms', kmsKeyId: 'key-1' } }),
        beforeComplete: async () => void fake.events.push('beforeComplete'),
      });
      expect(fake.events).toEqual(['beforeComplete', 'PutObjectCommand']);
      const [put] = fake.sent;
      expect(put!.body!.equals(data)).toBe(true);
      expect(put!.input).toMatchObject({ Bucket: 'b', Key: 'k', ContentLength: size, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'key-1', ChecksumCRC32: crcOf(data) });
      expect(result).toEqual({ bytes: size, parts: 1, sha256: createHash('sha256').update(data).digest('hex') });
    }
  });

  it('a failing beforeComplete (the dump exited ≠ 0) stores nothing: no PutObject, or the multipart upload aborted', async () => {
    const dumpFailed = async () => {
      throw new Error('pg_dump exited with code 1');
    };
    const small = fakeClient();
    await expect(uploadStream(chunked(randomBytes(1000), 100), { ...options(small.client), beforeComplete: dumpFailed })).rejects.toThrow('code 1');
    expect(small.events).toEqual([]);

    const big = fakeClient();
    await expect(uploadStream(chunked(randomBytes(12 * MiB), 64 * 1024), { ...options(big.client), beforeComplete: dumpFailed })).rejects.toThrow('code 1');
    expect(big.events.at(-1)).toBe('AbortMultipartUploadCommand');
    expect(big.events).not.toContain('CompleteMultipartUploadCommand');
  });

  it('the signal cuts the parts short, never the write that creates the object, and stops the upload before that write', async () => {
    // A write cut short after S3 read it may still be stored: its answer is waited for, so a throw means no object.
    for (const size of [1000, 12 * MiB]) {
      const fake = fakeClient();
      await uploadStream(chunked(randomBytes(size), 64 * 1024), { ...options(fake.client), signal: new AbortController().signal });
      const creating = fake.sent.filter((s) => s.name === 'PutObjectCommand' || s.name === 'CompleteMultipartUploadCommand');
      expect(creating).toHaveLength(1);
      expect(creating[0]!.abortable).toBe(false);
      expect(fake.sent.filter((s) => s.name === 'UploadPartCommand').every((s) => s.abortable)).toBe(true);

      const interrupted = fakeClient();
      const controller = new AbortController();
      // Interrupted once every byte is sent and the dump has exited 0: no object is created.
      const upload = uploadStream(chunked(randomBytes(size), 64 * 1024), {
        ...options(interrupted.client),
        signal: controller.signal,
        beforeComplete: async () => controller.abort(),
      });
      await expect(upload).rejects.toThrow();
      expect(interrupted.events.filter((e) => e === 'PutObjectCommand' || e === 'CompleteMultipartUploadCommand')).toEqual([]);
      if (size > 5 * MiB) expect(interrupted.events.at(-1)).toBe('AbortMultipartUploadCommand');
    }
  });

  it('a part that fails stops the reading and aborts the upload', async () => {
    const fake = fakeClient({ failPart: 2 });
    await expect(uploadStream(chunked(randomBytes(40 * MiB), 64 * 1024), options(fake.client))).rejects.toThrow('internal error');
    expect(fake.events.at(-1)).toBe('AbortMultipartUploadCommand');
    expect(fake.events).not.toContain('CompleteMultipartUploadCommand');
    // Reading stopped: not all 8 parts were sent.
    expect(fake.sent.filter((s) => s.name === 'UploadPartCommand').length).toBeLessThan(8);
  });

  it('an upload the abort cannot find (NoSuchUpload: completed after all, or aborted) is not said to be left open; one it may not abort is', async () => {
    const gone = fakeClient({ failPart: 2, abortAnswers: 'NoSuchUpload' });
    const goneErr = await uploadStream(chunked(randomBytes(40 * MiB), 64 * 1024), options(gone.client)).catch((e: unknown) => e);
    expect(String(goneErr)).toMatch(/internal error/);
    expect(uploadLeftOpen(goneErr)).toBeUndefined();
    const denied = fakeClient({ failPart: 2, abortAnswers: 'AccessDenied' });
    const deniedErr = await uploadStream(chunked(randomBytes(40 * MiB), 64 * 1024), options(denied.client)).catch((e: unknown) => e);
    expect(uploadLeftOpen(deniedErr)).toMatchObject({ key: 'k', uploadId: 'upload-1', code: 'AccessDenied' });
  });

  it('a stream bigger than the part limit allows fails before S3 would refuse it, and aborts', async () => {
    const fake = fakeClient();
    // 2 parts, doubling every part: 5 + 10 MiB.
    await expect(uploadStream(chunked(randomBytes(16 * MiB), 64 * 1024), options(fake.client, { maxParts: 2 }))).rejects.toThrow(
      /larger than 15\.0 MiB, the most that fits in 2 parts/,
    );
    expect(fake.events.at(-1)).toBe('AbortMultipartUploadCommand');
  });
});
