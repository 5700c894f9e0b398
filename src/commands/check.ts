// `backup-all check`: can tonight's run work? Each line says what was checked and, if wrong, what to do.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { connectAdminDb } from '../admin-db/pool.js';
import { activeContainers } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import { ENGINES, findEngine } from '../engines/index.js';
import { createTransport } from '../notify/email.js';
import { describeS3Error } from '../pipeline/stream-step.js';
import { lifecycleHasAbortRule } from '../storage/lifecycle.js';
import { createS3Client, headObject, sseMismatch, sseRequest } from '../storage/s3.js';
import type { Masker } from '../util/mask.js';
import { mariadbUserDatabases } from '../restore/mariadb-server.js';
import { pgRoles } from '../restore/postgres-server.js';
import { verifyServer } from '../restore/target.js';

type Print = (line: string) => void;

export async function findOnPath(program: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Retention is S3's job (s3-lifecycle.json); the one rule the pipeline relies on is the multipart abort. */
async function checkLifecycle(client: S3Client, config: Config, ok: Print, warn: Print): Promise<void> {
  try {
    if (await lifecycleHasAbortRule(client, config.s3.bucket, config.s3.prefix)) {
      ok(`bucket ${config.s3.bucket} aborts incomplete multipart uploads (lifecycle rule)`);
    } else {
      warn(
        `bucket ${config.s3.bucket} has no lifecycle rule aborting incomplete multipart uploads: parts of killed uploads stay ` +
          '(and are billed) until aborted; apply s3-lifecycle.json (aws s3api put-bucket-lifecycle-configuration)',
      );
    }
  } catch (err) {
    warn(`cannot read the lifecycle rules of bucket ${config.s3.bucket}: ${describeS3Error(err)}`);
  }
}

export async function runCheck(config: Config, mask: Masker, print: Print): Promise<number> {
  let failures = 0;
  const ok = (what: string) => print(`OK    ${what}`);
  const fail = (what: string) => {
    failures += 1;
    print(`FAIL  ${mask(what)}`);
  };
  const warn = (what: string) => print(`WARN  ${mask(what)}`);
  ok('configuration is valid');

  const enginesInUse = new Set<string>();
  try {
    const db = await connectAdminDb(config.adminDbUrl, mask);
    try {
      const containers = await activeContainers(db);
      const broken = containers.filter((c) => c.problem || !findEngine(c.engine));
      containers.forEach((c) => enginesInUse.add(findEngine(c.engine)?.name ?? ''));
      ok(`admin database reached: ${containers.length} active containers`);
      for (const c of broken) warn(`container ${c.name} cannot be backed up: ${c.problem ?? `unknown dbengine '${c.engine}'`}`);
    } finally {
      await db.end();
    }
  } catch (err) {
    fail(`admin database (SQLALCHEMY_ADMIN_URI): ${(err as Error).message}`);
  }

  const client = createS3Client(config.s3);
  const probeKey = `${config.s3.prefix}/.mydb-backup-check`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: config.s3.bucket }));
    await client.send(
      new PutObjectCommand({
        Bucket: config.s3.bucket,
        Key: probeKey,
        Body: 'mydb-backup check',
        ...sseRequest(config.s3.sse),
      }),
    );
    const head = await headObject(client, config.s3.bucket, probeKey);
    await client.send(new DeleteObjectCommand({ Bucket: config.s3.bucket, Key: probeKey }));
    const wrongEncryption = sseMismatch(head, config.s3.sse);
    if (wrongEncryption) {
      // Some stores (Ceph RGW) take the AES256 header and report nothing back: every backup would fail the same way.
      const unreportedSseS3 =
        config.s3.sse.mode === 'AES256' && head.ServerSideEncryption === undefined
          ? '; the store took the AES256 request but does not report SSE-S3 on its objects (Ceph RGW does this), so every backup ' +
            'would fail verification: set BACKUP_SSE=aws:kms with BACKUP_SSE_KMS_KEY_ID, or give the bucket a default encryption ' +
            'where the store reports it (docs/s3-stores.md)'
          : '';
      fail(`bucket ${config.s3.bucket}: a test object was stored with the wrong encryption: ${wrongEncryption}${unreportedSseS3}`);
    } else {
      ok(`bucket ${config.s3.bucket} writable with ${config.s3.sse.mode} encryption`);
    }
    await checkLifecycle(client, config, ok, warn);
  } catch (err) {
    fail(`bucket ${config.s3.bucket} (AWS_BUCKET_NAME, credentials, SSE permission): ${describeS3Error(err)}`);
  } finally {
    client.destroy();
  }

  if (config.smtp) {
    const transport = createTransport(config.smtp);
    try {
      await transport.verify();
      ok(`SMTP ${config.smtp.host}:${config.smtp.port} accepts mail for ${config.smtp.to.join(', ')}`);
    } catch (err) {
      fail(`SMTP ${config.smtp.host}:${config.smtp.port}: ${(err as Error).message}`);
    } finally {
      transport.close();
    }
  } else {
    warn('SMTP_HOST is not set: no summary mail will be sent');
  }

  for (const key of ['postgres', 'mariadb'] as const) {
    const server = verifyServer(config, key);
    if (!server) continue;
    try {
      if (key === 'postgres') await pgRoles(server.conn, server.maintenanceDb);
      else await mariadbUserDatabases(server.conn, mask);
      ok(`verification server ${server.label} reached`);
    } catch (err) {
      fail(`verification server ${server.label} (BACKUP_VERIFY_${key.toUpperCase()}_URL): ${(err as Error).message}`);
    }
  }

  for (const engine of ENGINES) {
    const needed = enginesInUse.has(engine.name);
    for (const tool of engine.tools) {
      const path = await findOnPath(tool);
      if (path) ok(`${tool} found at ${path}`);
      else if (needed) fail(`${tool} not found on PATH: ${engine.name} containers cannot be backed up`);
      else warn(`${tool} not found on PATH (no active ${engine.name} container needs it now)`);
    }
    if (needed && config.compression[engine.configKey] === 'zstd') {
      // The pipeline runs the zstd program (and restores need it to unzstd).
      const path = await findOnPath('zstd');
      if (path) ok(`zstd found at ${path} (BACKUP_COMPRESS_${engine.configKey.toUpperCase()}=zstd)`);
      else fail(`zstd not found on PATH: ${engine.name} backups are compressed with zstd (BACKUP_COMPRESS_${engine.configKey.toUpperCase()}); install it or set gzip`);
    }
    if (needed && !config.credentials[engine.configKey].password) {
      warn(`no password configured for ${engine.name} (BACKUP_${engine.configKey.toUpperCase()}_PASSWORD)`);
    }
  }
  print(failures ? `${failures} problem(s) found` : 'all checks passed');
  return failures ? 1 : 0;
}
