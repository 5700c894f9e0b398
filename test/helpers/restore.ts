/**
 * Test-side restores, done the way an operator would by hand: stream the object into psql / pg_restore.
 *
 * They take a PgServer, a server the test file started itself (startPostgres under scratchDir), never the rig's shared
 * pgA/pgB/admin handles: other files back those up at the same time, listing their databases and roles, so a restore
 * there would change what their dumps see (and a database dropped between the listing and the dump fails them).
 */
import { execa } from 'execa';
import pino from 'pino';
import type { Config } from '../../src/config.js';
import type { BackupResult } from '../../src/pipeline/backup-job.js';
import { verifySample } from '../../src/restore/nightly-sample.js';
import { makeMasker } from '../../src/util/mask.js';
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

/**
 * The nightly run's sample of test restores, run in this process as the run would: the backups of a `--json` result
 * as the run's results, the S3 credentials from `env` (the nightly run reads them from its environment).
 */
export async function nightlySample(config: Config, backups: readonly (BackupResult & { id: number })[], env: Record<string, string>): Promise<string[]> {
  const results = backups.map((b) => ({
    ...b,
    cId: b.id,
    owner: { kind: 'container', id: b.id, name: b.name },
    command: '',
    errMsg: '',
    objects: b.objects.map((o) => ({ ...o, sha256: '' })),
  })) as BackupResult[];
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  return verifySample(config, results, { log: pino({ level: 'silent' }), mask: makeMasker(config.secrets) }).finally(() => {
    for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.key]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}
