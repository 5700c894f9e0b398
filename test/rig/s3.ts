/** Small S3 helpers for tests, against moto (or any S3-compatible endpoint). */
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';

export const TEST_REGION = 'us-east-1';
export const TEST_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** A client for moto (any credentials do) or, given its keys, another store such as RGW. */
export function s3Client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = TEST_CREDENTIALS): S3Client {
  const { accessKeyId, secretAccessKey } = credentials;
  return new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

let bucketCounter = 0;
/** A bucket name unique to this process and call (lowercase, DNS-safe). */
export function uniqueBucketName(prefix = 'test'): string {
  const base = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 30);
  return `${base}-${process.pid}-${Date.now().toString(36)}-${++bucketCounter}`;
}

export async function createBucket(client: S3Client, name: string): Promise<string> {
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Every key under prefix, sorted. */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
  }
  return keys.sort();
}

export function headObject(client: S3Client, bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

export async function getObjectStream(client: S3Client, bucket: string, key: string): Promise<Readable> {
  const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!Body) throw new Error(`s3://${bucket}/${key}: empty GetObject body`);
  return Body as Readable;
}

export async function getObjectBuffer(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(client, bucket, key)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export interface PendingUpload {
  key: string;
  uploadId: string;
}

/** Multipart uploads started and neither completed nor aborted (should be none after a backup). */
export async function listMultipartUploads(client: S3Client, bucket: string): Promise<PendingUpload[]> {
  const uploads: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const u of page.Uploads ?? []) uploads.push({ key: u.Key ?? '', uploadId: u.UploadId ?? '' });
    if (!page.IsTruncated) return uploads;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}
