// A test restore: the backup goes into scratch databases on the verification server configured for its engine, is
// counted (tables, rows per table, large objects), and the scratch databases are dropped whatever happened.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { MARIADB_DUMP_COMPLETE, MARIADB_SYSTEM_DATABASES, mariadbDatabaseFilter } from '../engines/mariadb-filter.js';
import { compressionOf } from '../engines/names.js';
import { GLOBALS_COMPLETE, databaseOfObject, postgres } from '../engines/postgres.js';
import { readObjectThrough, streamObjectToCommand, type RestoreStepContext } from '../pipeline/restore-step.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { mariadbDatabaseStats, mariadbDropDatabase, mariadbUserDatabases } from './mariadb-server.js';
import { pgCreateDatabase, pgDatabaseStats, pgDropDatabase, type DatabaseStats } from './postgres-server.js';
import type { BackupSource } from './source.js';
import { verifyServer } from './target.js';

export type VerifyStatus = 'ok' | 'failed' | 'skipped';

export interface VerifyOutcome {
  name: string;
  backupId: string;
  engine: string;
  status: VerifyStatus;
  /** One line: what came back, or why the verification failed or could not run. */
  summary: string;
  databases: DatabaseStats[];
  bytes: number;
  durationMs: number;
}

const pad = (n: number) => String(n).padStart(2, '0');
const fmt = (n: number) => n.toLocaleString('en-US');

/** `mydbverify_20250301T020007_a1b2`: scratch names say what they are and when they were made (UTC). */
export function scratchBase(now = new Date()): string {
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}T${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `mydbverify_${stamp}_${randomBytes(2).toString('hex')}`;
}

const lowerSafe = (s: string) => s.toLowerCase().replace(/[^a-z0-9_]+/g, '_');

/** What came back, in one line: `2 databases, 5 tables, 4,512 rows, 3 large objects (shop: 2 tables, 4,000 rows; …)`. */
export function describeStats(stats: readonly DatabaseStats[]): string {
  const tables = stats.reduce((n, s) => n + s.tables.length, 0);
  const rows = stats.reduce((n, s) => n + s.rows, 0);
  const lo = stats.reduce((n, s) => n + s.largeObjects, 0);
  const per = stats.map((s) => `${s.database}: ${s.tables.length} tables, ${fmt(s.rows)} rows${s.largeObjects ? `, ${fmt(s.largeObjects)} large objects` : ''}`);
  return `${stats.length} database${stats.length === 1 ? '' : 's'}, ${fmt(tables)} tables, ${fmt(rows)} rows${lo ? `, ${fmt(lo)} large objects` : ''}${per.length ? ` (${per.join('; ')})` : ''}`;
}

export async function verifyBackup(source: BackupSource, config: Config, ctx: RestoreStepContext): Promise<VerifyOutcome> {
  const started = Date.now();
  const outcome = (status: VerifyStatus, summary: string, databases: DatabaseStats[] = [], bytes = 0): VerifyOutcome => ({
    name: source.name,
    backupId: source.folder.backupId,
    engine: source.engine.name,
    status,
    summary,
    databases,
    bytes,
    durationMs: Date.now() - started,
  });
  const key = source.engine.configKey;
  if (key === 'mongodb') return outcome('skipped', 'MongoDB backups cannot be verified yet (no scratch restore for mongorestore)');
  const server = verifyServer(config, key);
  if (!server) {
    return outcome('skipped', `no verification server for ${source.engine.name}: set BACKUP_VERIFY_${key.toUpperCase()}_URL`);
  }
  const stats: DatabaseStats[] = [];
  let bytes = 0;
  try {
    bytes = key === 'postgres' ? await verifyPostgres(source, server, stats, ctx) : await verifyMariadb(source, server, stats, ctx);
  } catch (err) {
    return outcome('failed', ctx.mask((err as Error).message), stats, bytes);
  }
  const tables = stats.reduce((n, s) => n + s.tables.length, 0);
  if (tables === 0) return outcome('failed', `the restore succeeded but no table came back (${describeStats(stats)})`, stats, bytes);
  return outcome('ok', `${describeStats(stats)}; read ${formatBytes(bytes)} in ${formatDuration(Date.now() - started)}`, stats, bytes);
}

type Server = NonNullable<ReturnType<typeof verifyServer>>;

/**
 * Each database dump into its own scratch database (pg_restore --single-transaction, without owners and grants:
 * the verification server has not the container's roles); the globals are read whole and checked for completeness.
 */
async function verifyPostgres(source: BackupSource, server: Server, stats: DatabaseStats[], ctx: RestoreStepContext): Promise<number> {
  const names = source.folder.objects.map((o) => o.name);
  const base = scratchBase();
  let bytes = 0;
  const globals = names.find((n) => /_globals\.sql(\.gz|\.zst)?$/.test(n));
  if (globals) {
    bytes += (await readObjectThrough({ compression: compressionOf(globals), completionMarker: GLOBALS_COMPLETE }, source.folder.folder + globals, ctx)).bytes;
  }
  const dumps = names.filter((n) => /\.dump(\.gz|\.zst)?$/.test(n));
  if (dumps.length === 0) throw new Error(`backup ${source.folder.backupId} holds no database dump (objects: ${names.join(', ') || 'none'})`);
  for (const [i, object] of dumps.entries()) {
    const db = databaseOfObject(object, source.segment);
    const scratch = `${base}_${i + 1}_${lowerSafe(db)}`.slice(0, 63);
    await pgCreateDatabase(server.conn, scratch, server.maintenanceDb);
    try {
      const steps = postgres.restoreSteps([object], { ...server.conn, intoDatabase: scratch, noOwner: true }, { segment: source.segment });
      for (const step of steps) bytes += (await streamObjectToCommand(step, source.folder.folder + step.objectName, ctx)).bytes;
      stats.push(await pgDatabaseStats(server.conn, scratch, db));
    } finally {
      await pgDropDatabase(server.conn, scratch, server.maintenanceDb).catch((err: unknown) =>
        ctx.log.error({ database: scratch, err: ctx.mask((err as Error).message) }, 'could not drop a scratch database'),
      );
    }
  }
  return bytes;
}

/** The dump with every user database renamed to `{scratch}_{name}`; the mysql schema (users, grants) left out. */
async function verifyMariadb(source: BackupSource, server: Server, stats: DatabaseStats[], ctx: RestoreStepContext): Promise<number> {
  const prefix = `${scratchBase()}_`;
  const system: readonly string[] = MARIADB_SYSTEM_DATABASES;
  const filter = () => mariadbDatabaseFilter((db) => (system.includes(db) ? null : `${prefix}${db}`.slice(0, 64)), 'user database');
  const names = source.folder.objects.map((o) => o.name);
  const steps = source.engine
    .restoreSteps(names, { ...server.conn }, { segment: source.segment })
    .map((s) => ({ completionMarker: MARIADB_DUMP_COMPLETE, ...s, filter }));
  if (steps.length === 0) throw new Error(`backup ${source.folder.backupId} holds no MariaDB dump (objects: ${names.join(', ') || 'none'})`);
  let bytes = 0;
  const scratchDatabases = async () => [...(await mariadbUserDatabases(server.conn, ctx.mask)).keys()].filter((d) => d.startsWith(prefix));
  try {
    for (const step of steps) bytes += (await streamObjectToCommand(step, source.folder.folder + step.objectName, ctx)).bytes;
    for (const db of (await scratchDatabases()).sort()) stats.push(await mariadbDatabaseStats(server.conn, db, ctx.mask, db.slice(prefix.length)));
  } finally {
    const leftovers = await scratchDatabases().catch(() => [] as string[]);
    for (const db of leftovers) {
      await mariadbDropDatabase(server.conn, db, ctx.mask).catch((err: unknown) =>
        ctx.log.error({ database: db, err: ctx.mask((err as Error).message) }, 'could not drop a scratch database'),
      );
    }
  }
  return bytes;
}
