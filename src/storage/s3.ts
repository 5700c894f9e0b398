// The S3 client, configured once: region, endpoint, TLS-only unless allowed, checksum mode, retries, keep-alive.
import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { CleanupFailed, leftBehindOf, s3ErrorOf, type LeftBehind } from './s3-errors.js';

export type S3Settings = Config['s3'];

export function createS3Client(s3: S3Settings, maxSockets = 64): S3Client {
  const agentOptions = { keepAlive: true, maxSockets };
  return new S3Client({
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    // Some S3-compatible stores reject the CRC32 headers SDK ≥ 3.729 adds by default.
    requestChecksumCalculation: s3.checksum,
    responseChecksumValidation: s3.checksum,
    maxAttempts: 6,
    retryMode: 'adaptive',
    requestHandler: {
      httpsAgent: new Agent(agentOptions),
      httpAgent: new HttpAgent(agentOptions),
      requestTimeout: 300_000,
      connectionTimeout: 10_000,
    },
  });
}

export type Sse = S3Settings['sse'];

/** The request fields asking S3 for the configured server-side encryption (uploads, the manifest, check's probe). */
export function sseRequest(sse: Sse): { ServerSideEncryption: Sse['mode']; SSEKMSKeyId?: string } {
  return { ServerSideEncryption: sse.mode, ...(sse.mode === 'aws:kms' ? { SSEKMSKeyId: sse.kmsKeyId } : {}) };
}

/** What is wrong with an object's encryption as S3 reports it (HeadObject, PutObject's answer); undefined if nothing. */
export function sseMismatch(stored: { ServerSideEncryption?: string; SSEKMSKeyId?: string }, sse: Sse): string | undefined {
  if (stored.ServerSideEncryption !== sse.mode) {
    return `server-side encryption is '${stored.ServerSideEncryption ?? 'none'}', not '${sse.mode}'`;
  }
  if (sse.mode === 'aws:kms' && !stored.SSEKMSKeyId?.endsWith(sse.kmsKeyId)) {
    return `KMS key is '${stored.SSEKMSKeyId ?? 'none'}', not '${sse.kmsKeyId}'`;
  }
  return undefined;
}

/**
 * The request field that makes S3 refuse to overwrite an existing key (PutObject, CompleteMultipartUpload) where the
 * store supports conditional writes (BACKUP_S3_CONDITIONAL_WRITES; docs/s3-stores.md).
 */
export function noOverwrite(s3: Pick<S3Settings, 'conditionalWrites'>): { IfNoneMatch?: '*' } {
  return s3.conditionalWrites ? { IfNoneMatch: '*' } : {};
}

/** How S3 says it stored an object (the answer to the write, or to reading it). */
export interface StoredEncryption {
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
}

/**
 * Sends the write that creates `key` (PutObject, CompleteMultipartUpload). When its answer is lost after S3 stored the
 * object, the SDK sends it again, and with If-None-Match S3 refuses the second (412): the write counts as done when
 * the key holds exactly the bytes sent (read back: size and SHA-256). Anything else there stays the caller's failure.
 */
export async function createObject(
  client: S3Client,
  bucket: string,
  key: string,
  write: () => Promise<StoredEncryption>,
  sent: { bytes: number; sha256: string },
): Promise<StoredEncryption> {
  try {
    return await write();
  } catch (err) {
    if (s3ErrorOf(err).status !== 412) throw err;
    const stored = await storedAsSent(client, bucket, key, sent).catch(() => undefined);
    if (!stored) throw err;
    return stored;
  }
}

/** The object's encryption when it holds exactly the bytes sent; undefined when it holds anything else. */
async function storedAsSent(client: S3Client, bucket: string, key: string, sent: { bytes: number; sha256: string }): Promise<StoredEncryption | undefined> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (out.ContentLength !== sent.bytes) {
    body?.destroy?.();
    return undefined;
  }
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body ?? []) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  if (bytes !== sent.bytes || hash.digest('hex') !== sent.sha256) return undefined;
  return {
    ...(out.ServerSideEncryption ? { ServerSideEncryption: out.ServerSideEncryption } : {}),
    ...(out.SSEKMSKeyId ? { SSEKMSKeyId: out.SSEKMSKeyId } : {}),
  };
}

export async function headObject(client: S3Client, bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

/**
 * Removes objects a failed backup already completed, so a failure leaves nothing that looks like a backup. Throws
 * CleanupFailed naming every key that is still there: S3 answers 200 with per-key Errors (e.g. AccessDenied without
 * s3:DeleteObject), or the request fails as a whole (then every key of that batch; the other batches are still tried).
 */
export async function deleteObjects(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  const leftBehind: LeftBehind[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    try {
      const answer = await client.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      for (const e of answer.Errors ?? []) leftBehind.push({ key: e.Key ?? '', code: e.Code ?? 'Error', message: e.Message ?? '' });
    } catch (err) {
      leftBehind.push(...batch.map((key) => leftBehindOf(key, err)));
    }
  }
  if (leftBehind.length) throw new CleanupFailed(bucket, leftBehind);
}
