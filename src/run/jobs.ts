// The two kinds of backup job: a container from the admin DB, and the admin DB itself.
import type { Container } from '../admin-db/container-info.js';
import type { Config } from '../config.js';
import { ENGINES, findEngine, type DumpStep, type Engine, type DumpSource } from '../engines/index.js';
import { requireServer } from '../engines/restore-support.js';
import { dumpCompression } from '../engines/settings.js';
import type { ServerDatabase } from '../engines/types.js';
import { ADMIN_DB_COMPRESSION, connectionFromUrl, dumpDatabaseStep, globalsStep, postgres } from '../engines/postgres.js';
import { BackupFailed, errorText } from '../errors.js';
import type { BackupType } from './plan.js';
import { ADMIN_DB_NAME } from '../storage/layout.js';
import { orList } from '../util/format.js';
import type { Masker } from '../util/mask.js';
import type { BackupJob } from '../pipeline/backup-job.js';
import { targetServer } from '../restore/target-servers.js';

/** What a container resolves to: its engine and how to reach it, or why it cannot be backed up. */
export function resolveDumpSource(container: Container, config: Config): { engine: Engine; source: DumpSource } {
  if (container.problem) throw new BackupFailed(`container ${container.name}: ${container.problem}`);
  const engine = findEngine(container.engine);
  if (!engine) {
    throw new BackupFailed(`container ${container.name}: unknown dbengine '${container.engine}' (expected ${orList(ENGINES.map((e) => e.name))})`);
  }
  const credentials = config.credentials[engine.key];
  return {
    engine,
    source: {
      container,
      host: config.dbHost,
      port: container.port,
      user: credentials.user,
      ...(credentials.password ? { password: credentials.password } : {}),
      ...dumpCompression(engine, config.compression[engine.key]),
    },
  };
}

/** The steps of a container's backup, after asking its server what it holds (PostgreSQL: its databases). */
export async function containerSteps(container: Container, config: Config, mask: Masker): Promise<DumpStep[]> {
  const { engine, source } = resolveDumpSource(container, config);
  if (!engine.dumpsPerDatabase) return engine.dumpSteps(source, []);
  let databases: ServerDatabase[];
  try {
    databases = await requireServer(targetServer(engine, source, { mask }), engine.name, 'databases').databases();
  } catch (err) {
    throw new BackupFailed(`listing the databases on ${source.host}:${source.port}: ${mask(errorText(err))}`);
  }
  return engine.dumpSteps(source, databases);
}

export function containerJob(container: Container, backupType: BackupType, config: Config, mask: Masker): BackupJob {
  let engineName = container.engine;
  try {
    engineName = resolveDumpSource(container, config).engine.name;
  } catch {
    /* steps() reports it */
  }
  return {
    name: container.name,
    cId: container.id,
    owner: { kind: 'container', id: container.id, name: container.name },
    identity: { kind: 'container', id: container.id, name: container.name, engine: engineName, host: config.dbHost, port: container.port },
    backupType,
    engine: engineName,
    steps: () => containerSteps(container, config, mask),
  };
}

export function adminDbJob(config: Config): BackupJob {
  const conn = connectionFromUrl(config.adminDbUrl);
  return {
    name: ADMIN_DB_NAME,
    cId: null,
    owner: { kind: 'admin-db' },
    identity: { kind: 'admin-db', database: conn.database, host: conn.host, port: conn.port },
    backupType: 'Admin',
    engine: postgres.name,
    // Its server's roles too, so that it restores onto a new server (docs/restore.md, "Disaster recovery of the admin
    // database"); without their passwords: its account need not be a superuser.
    steps: async () => [
      globalsStep(conn, { database: conn.database, rolePasswords: false }),
      dumpDatabaseStep(conn, conn.database, ADMIN_DB_COMPRESSION),
    ],
  };
}
