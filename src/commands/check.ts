// `backup-all check`: can tonight's run work? Each line says what was checked and, if wrong, what to do.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { connectAdminDb } from '../admin-db/pool.js';
import { activeContainers } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import { ENGINES, findEngine } from '../engines/index.js';
import { createTransport } from '../notify/email.js';
import { createS3Client } from '../storage/s3.js';
import type { Masker } from '../util/mask.js';
import { mariadbUserDatabases } from '../restore/mariadb-server.js';
import { pgRoles } from '../restore/postgres-server.js';
import { verifyServer } from '../restore/target.js';
import { checkBucket } from './check-bucket.js';

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
  try {
    await checkBucket(client, config, { ok, fail, warn });
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
      else fail(`zstd not found on PATH: ${engine.name} backups are compressed with zstd (BACKUP_COMPRESS_${engine.configKey.toUpperCase()}); install it or set ${engine.configKey === 'postgres' ? 'gzip or pgdump' : 'gzip'}`);
    }
    if (needed && !config.credentials[engine.configKey].password) {
      warn(`no password configured for ${engine.name} (BACKUP_${engine.configKey.toUpperCase()}_PASSWORD)`);
    }
  }
  print(failures ? `${failures} problem(s) found` : 'all checks passed');
  return failures ? 1 : 0;
}
