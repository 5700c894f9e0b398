/**
 * The S3 servers a benchmark run talks to, side by side: moto from the rig (keeps the objects, spends CPU like a
 * real store's emulator), and bench/null-s3.mjs (answers like S3, keeps no data, spends almost no CPU: for dumps
 * bigger than moto holds in memory, and to see the clients without the emulator). Each holds the bench's bucket.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { createBucket, freePort, headObject, listKeys, s3Client, waitUntil, type Rig } from '../test/rig/index.js';
import { spawnServer } from '../test/rig/proc.js';
import { deleteObjects } from '../src/storage/s3.js';

const NULL_S3 = fileURLToPath(new URL('./null-s3.mjs', import.meta.url));

export type S3Kind = 'moto' | 'null';
export const S3_KINDS: readonly S3Kind[] = ['moto', 'null'];

export interface S3Server {
  kind: S3Kind;
  /** For the report. */
  name: string;
  endpoint: string;
  /** Whose CPU time is sampled around each run. */
  pid: number | undefined;
  /** Whether it keeps what it is sent (a restore needs that). */
  keepsData: boolean;
  client: S3Client;
  stop(): Promise<void>;
}

/** moto from the rig, or null-s3 started next to it (under the rig's directory, so it is reaped with it); with `bucket`. */
export async function startS3Server(kind: S3Kind, rig: Rig, bucket: string): Promise<S3Server> {
  let server: Omit<S3Server, 'client'>;
  if (kind === 'moto') {
    const pid = Number(readFileSync(join(rig.baseDir, 'moto', 'moto.pid'), 'utf8').trim()) || undefined;
    server = { kind, name: 'moto', endpoint: rig.moto.endpoint, pid, keepsData: true, stop: async () => {} };
  } else {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const proc = spawnServer(process.execPath, [NULL_S3, String(port)], { logFile: join(rig.baseDir, 'null-s3.log'), cwd: rig.baseDir });
    await waitUntil(async () => (await fetch(endpoint).then((r) => r.status).catch(() => 0)) > 0, 10_000, 'null-s3 to listen');
    server = { kind, name: 'null-s3 (keeps no data)', endpoint, pid: proc.pid, keepsData: false, stop: () => proc.stop() };
  }
  const client = s3Client(server.endpoint);
  await createBucket(client, bucket);
  return {
    ...server,
    client,
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/** Deletes every object of `bucket` except `keep` (moto holds objects in memory and temp files). */
export async function emptyBucket(server: S3Server, bucket: string, keep: ReadonlySet<string> = new Set()): Promise<void> {
  const keys = (await listKeys(server.client, bucket)).filter((k) => !keep.has(k));
  if (keys.length) await deleteObjects(server.client, bucket, keys);
}

export async function objectKeys(server: S3Server, bucket: string): Promise<string[]> {
  return listKeys(server.client, bucket);
}

export async function objectBytes(server: S3Server, bucket: string, key: string): Promise<number> {
  return (await headObject(server.client, bucket, key)).ContentLength ?? 0;
}
