/**
 * Test-side restores, done the way an operator would by hand: stream the object into psql / pg_restore.
 *
 * They take a PgServer, a server the test file started itself (startPostgres under scratchDir), never the rig's shared
 * pgA/pgB/admin handles: other files back those up at the same time, listing their databases and roles, so a restore
 * there would change what their dumps see (and a database dropped between the listing and the dump fails them).
 */
import { execa } from 'execa';
import type { S3Client } from '@aws-sdk/client-s3';
import { getObjectStream } from '../rig/s3.js';
import { withPgClient, type PgHandle, type PgServer } from '../rig/postgres.js';

function pgEnv(server: PgHandle): Record<string, string> {
  return { PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: server.adminUser, PGPASSWORD: server.adminPassword };
}

/** Pipes one S3 object into a command's stdin; resolves with its output, rejects on exit ≠ 0. */
export async function pipeObjectInto(client: S3Client, bucket: string, key: string, argv: string[], env: Record<string, string>) {
  const body = await getObjectStream(client, bucket, key);
  const [cmd = '', ...args] = argv;
  const child = execa(cmd, args, { stdin: 'pipe', env, all: true });
  body.pipe(child.stdin);
  return child;
}

/** Applies a globals SQL object (roles): 'already exists' errors are expected and ignored. */
export async function applyGlobals(client: S3Client, bucket: string, key: string, server: PgServer): Promise<void> {
  await pipeObjectInto(client, bucket, key, ['psql', '-X', '-q', '-d', 'postgres'], pgEnv(server));
}

/** Restores a pg_dump -Fc object (`….dump`, or `….dump.zst` through `zstd -dc`) into a new database `dbName` on `server`. */
export async function restorePgDump(client: S3Client, bucket: string, key: string, server: PgServer, dbName: string): Promise<void> {
  await withPgClient(server.url('postgres'), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(dbName)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(dbName)}`);
  });
  const argv = key.endsWith('.zst')
    ? ['bash', '-c', 'set -o pipefail; zstd -dc | pg_restore --exit-on-error -d "$1"', 'restore', dbName]
    : ['pg_restore', '--exit-on-error', '-d', dbName];
  await pipeObjectInto(client, bucket, key, argv, { PATH: process.env.PATH ?? '', ...pgEnv(server) });
}
