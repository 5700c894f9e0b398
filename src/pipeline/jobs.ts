// The two kinds of backup job: a container from the admin DB, and the admin DB itself.
import type { Container } from '../admin-db/container-info.js';
import type { Config } from '../config.js';
import { findEngine, type DumpStep, type Engine, type Target } from '../engines/index.js';
import { safeSegment } from '../engines/names.js';
import { connectionFromUrl, dumpDatabaseStep } from '../engines/postgres.js';
import { BackupFailed } from '../errors.js';
import type { BackupType } from '../plan.js';
import type { Masker } from '../util/mask.js';
import { captureCommand, renderCommand } from './command.js';
import type { BackupJob } from './backup-job.js';

/** The admin DB's own backups live at `{prefix}/_admin-db/{backup_id}/{database}.dump`; restore docs rely on it. */
export const ADMIN_DB_SEGMENT = '_admin-db';

/** What a container resolves to: its engine and how to reach it, or why it cannot be backed up. */
export function resolveTarget(container: Container, config: Config, backupId: string): { engine: Engine; target: Target } {
  if (container.problem) throw new BackupFailed(`container ${container.name}: ${container.problem}`);
  const engine = findEngine(container.engine);
  if (!engine) {
    throw new BackupFailed(`container ${container.name}: unknown dbengine '${container.engine}' (expected Postgres, MariaDB or MongoDB)`);
  }
  const credentials = config.credentials[engine.configKey];
  return {
    engine,
    target: {
      container,
      backupId,
      host: config.dbHost,
      port: container.port,
      user: credentials.user,
      ...(credentials.password ? { password: credentials.password } : {}),
      compression: config.compression[engine.configKey],
    },
  };
}

/** The steps of a container's backup, after asking its server what it holds (PostgreSQL: its databases). */
export async function containerSteps(container: Container, backupId: string, config: Config, mask: Masker): Promise<DumpStep[]> {
  const { engine, target } = resolveTarget(container, config, backupId);
  const inventory = engine.inventory?.(target);
  const output = inventory
    ? await captureCommand(inventory, {
        mask,
        timeoutMs: Math.min(config.stallTimeoutMs, 120_000),
        what: `listing the databases on ${target.host}:${target.port}:`,
      })
    : '';
  return engine.dumpSteps(target, output);
}

export function containerJob(container: Container, backupType: BackupType, config: Config, mask: Masker): BackupJob {
  let preflightCommand: string | undefined;
  let engineName = container.engine;
  try {
    const { engine, target } = resolveTarget(container, config, '');
    engineName = engine.name;
    const inventory = engine.inventory?.(target);
    if (inventory) preflightCommand = renderCommand(inventory, mask);
  } catch {
    /* steps() reports it */
  }
  return {
    name: container.name,
    cId: container.id,
    segment: safeSegment(container.name),
    backupType,
    engine: engineName,
    ...(preflightCommand ? { preflightCommand } : {}),
    steps: (backupId) => containerSteps(container, backupId, config, mask),
  };
}

export function adminDbJob(config: Config): BackupJob {
  const conn = connectionFromUrl(config.adminDbUrl);
  return {
    name: ADMIN_DB_SEGMENT,
    cId: null,
    segment: ADMIN_DB_SEGMENT,
    backupType: 'Admin',
    engine: 'Postgres',
    steps: async () => [dumpDatabaseStep(conn, conn.database, `${safeSegment(conn.database)}.dump`)],
  };
}
