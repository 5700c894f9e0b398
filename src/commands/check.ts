// `backup-all check`: can tonight's run work? Each line says what was checked and, if wrong, what to do.
import { tmpdir } from 'node:os';
import { connectAdminDb } from '../admin-db/pool.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { heldClaims } from '../admin-db/locks.js';
import type { AdminDb } from '../admin-db/pool.js';
import { activeContainers, allOpenStarts } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import { ENGINES, findEngine } from '../engines/index.js';
import { createTransport } from '../notify/email.js';
import { prefixFolder, s3Url } from '../storage/layout.js';
import { listOpenUploads } from '../storage/listing.js';
import { createS3Client } from '../storage/s3.js';
import { describeS3Error } from '../storage/s3-errors.js';
import type { Masker } from '../util/mask.js';
import { choicesWithoutZstd, engineEnvNames } from '../engines/settings.js';
import { verifyServer } from '../restore/target.js';
import { targetServer } from '../restore/target-servers.js';
import { fifoProblem } from '../pipeline/command.js';
import { directProgram } from '../pipeline/pg-wrapper.js';
import { findOnPath } from '../util/program-path.js';
import { checkBucket } from './check-bucket.js';
import { errorText } from '../errors.js';

type Print = (line: string) => void;

/** Backups of the last days with a start row, no end row, and no process holding their owner: their process died. */
async function abandonedBackups(db: AdminDb): Promise<string[]> {
  const [open, held] = await Promise.all([allOpenStarts(db, new Date(Date.now() - 7 * 24 * 3_600_000)), heldClaims(db)]);
  return open
    .filter((o) => !held.has(o.cId ?? 0))
    .map(
      (o) =>
        `backup ${o.backupId} of ${o.name} (started ${o.startedAt.toISOString()}) has no end row and no process is backing ${o.name} up: ` +
        'its process died; the next run records it as abandoned and removes what it wrote',
    );
}

/** Incomplete multipart uploads under the prefix (parts billed while invisible to listings), if any. */
async function openUploadsLine(client: S3Client, config: Config): Promise<string | undefined> {
  const where = s3Url(config.s3.bucket, prefixFolder(config.s3.prefix));
  let uploads;
  try {
    uploads = await listOpenUploads(client, config.s3.bucket, config.s3.prefix);
  } catch (err) {
    return `cannot list incomplete multipart uploads under ${where}: ${describeS3Error(err)}`;
  }
  if (uploads.length === 0) return undefined;
  const oldest = uploads.map((u) => u.initiated?.getTime() ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
  return (
    `${uploads.length} incomplete multipart upload${uploads.length === 1 ? '' : 's'} under ${where}` +
    `${Number.isFinite(oldest) ? ` (oldest started ${new Date(oldest).toISOString()})` : ''}: the next run aborts those of backups ` +
    "whose process is gone; the bucket's lifecycle rule removes the rest"
  );
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
      for (const line of await abandonedBackups(db)) warn(line);
    } finally {
      await db.end();
    }
  } catch (err) {
    fail(`admin database (SQLALCHEMY_ADMIN_URI): ${errorText(err)}`);
  }

  const client = createS3Client(config.s3);
  try {
    // A bucket that cannot be used at all is said once: its uploads cannot be listed either.
    if (await checkBucket(client, config, { ok, fail, warn })) {
      const open = await openUploadsLine(client, config);
      if (open) warn(open);
    }
  } finally {
    client.destroy();
  }

  if (config.smtp) {
    const transport = createTransport(config.smtp);
    try {
      await transport.verify();
      ok(`SMTP ${config.smtp.host}:${config.smtp.port} accepts mail for ${config.smtp.to.join(', ')}`);
    } catch (err) {
      fail(`SMTP ${config.smtp.host}:${config.smtp.port}: ${errorText(err)}`);
    } finally {
      transport.close();
    }
  } else {
    warn('SMTP_HOST is not set: no summary mail will be sent');
  }

  for (const engine of ENGINES) {
    const server = verifyServer(config, engine);
    if (!server) continue;
    try {
      await targetServer(engine, server.conn, { maintenanceDb: server.maintenanceDb, mask })?.ping();
      ok(`verification server ${server.label} reached`);
    } catch (err) {
      fail(`verification server ${server.label} (${engineEnvNames(engine).verifyUrl}): ${errorText(err)}`);
    }
  }

  // Every dump reaches the tool through a FIFO in a private temporary directory (pipeline/command.ts).
  const fifo = await fifoProblem();
  if (fifo) fail(`${fifo}: no backup can run, nor a restore of a .zst object with its manifest`);
  else ok(`FIFOs can be made in ${tmpdir()} (TMPDIR)`);

  for (const engine of ENGINES) {
    const needed = enginesInUse.has(engine.name);
    for (const tool of engine.tools) {
      const path = findOnPath(tool);
      if (path) {
        // What the tool starts for it (PostgreSQL's commands all set PGHOST): the program pg_wrapper would run.
        const direct = directProgram(tool, { PGHOST: '' }, process.env.PATH ?? '');
        ok(`${tool} found at ${path}${direct ? ` (started as ${direct.file}, the program pg_wrapper runs)` : ''}`);
      } else if (needed) fail(`${tool} not found on PATH: ${engine.name} containers cannot be backed up`);
      else warn(`${tool} not found on PATH (no active ${engine.name} container needs it now)`);
    }
    const names = engineEnvNames(engine);
    if (needed && config.compression[engine.key] === 'zstd') {
      // The pipeline runs the zstd program (and restores need it to unzstd).
      const path = findOnPath('zstd');
      if (path) ok(`zstd found at ${path} (${names.compress}=zstd)`);
      else fail(`zstd not found on PATH: ${engine.name} backups are compressed with zstd (${names.compress}); install it or set ${choicesWithoutZstd(engine).join(' or ')}`);
    }
    if (needed && !config.credentials[engine.key].password) {
      warn(`no password configured for ${engine.name} (${names.password})`);
    }
  }
  print(failures ? `${failures} problem(s) found` : 'all checks passed');
  return failures ? 1 : 0;
}
