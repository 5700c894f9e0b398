// PostgreSQL: the roles and tablespaces (pg_dumpall --globals-only) plus one custom-format dump per database.
import type { Command, DumpStep, Engine, LineFilter, RestoreSource, RestoreStep, RestoreTarget, ServerConnection, DumpSource } from './types.js';
import type { Compression } from '../config.js';
import { COMPRESSION_SUFFIX, compressionOf } from './names.js';
import { decodeName, encodeName } from '../storage/layout.js';

const LIST_DATABASES = `SELECT datname, pg_database_size(datname) FROM pg_database
  WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname`;

type PgConnection = ServerConnection;

function connection(t: PgConnection): Pick<Command, 'env' | 'secretEnv'> {
  return {
    env: { PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGCONNECT_TIMEOUT: '15', PGAPPNAME: 'mydb-backup', ...t.extraEnv },
    ...(t.password ? { secretEnv: { PGPASSWORD: t.password } } : {}),
  };
}

/** A postgresql:// URL (the admin DB's) → connection settings and database, the password kept out of argv. */
export function connectionFromUrl(url: string): PgConnection & { database: string } {
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode');
  return {
    host: u.searchParams.get('host') ?? u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    database: decodeURIComponent(u.pathname.slice(1)),
    ...(sslmode ? { extraEnv: { PGSSLMODE: sslmode } } : {}),
  };
}

/** A database's object: its name, one-to-one and readable when plain (storage/layout.ts encodeName), and suffix. */
export const databaseObjectName = (database: string, compression: Compression = 'none'): string =>
  `${encodeName(database)}.dump${COMPRESSION_SUFFIX[compression]}`;

/** How a database dump is compressed: by the pipeline (compression), or by pg_dump itself (nativeCompression). */
export type PgDumpCompression = Pick<DumpSource, 'compression' | 'nativeCompression'>;

/**
 * The admin DB's own backup keeps pg_dump's own compression, whatever BACKUP_COMPRESS_POSTGRES says: it is small
 * (seconds either way), and its restore is the path of last resort, when the tool or its host may be gone: a plain
 * `.dump` needs pg_restore and nothing else (docs/restore.md, "Disaster recovery of the admin database").
 */
export const ADMIN_DB_COMPRESSION: PgDumpCompression = { compression: 'none', nativeCompression: true };

/**
 * pg_dump -Fc of one database: the containers' databases and the admin DB's own backup. Without pg_dump's own
 * compression (-Z0) unless asked for: pg_dump compresses with zlib on one core, spending about 7 times the CPU of the
 * pipeline's zstd for about the same bytes (BENCHMARKS.md, "PostgreSQL compression").
 */
export function dumpDatabaseStep(conn: PgConnection, database: string, how: PgDumpCompression, sizeHint?: number): DumpStep {
  const compression = how.nativeCompression ? 'none' : how.compression;
  const level = how.nativeCompression ? [] : ['-Z0'];
  return {
    command: { argv: ['pg_dump', '-Fc', ...level, '--no-password', '-d', dbConninfo(database)], ...connection(conn) },
    objectName: databaseObjectName(database, compression),
    database,
    compression,
    ...(sizeHint ? { sizeHint } : {}),
    rowCounting: { kind: 'pg-snapshot', conn, database, snapshotArgs: (snapshot) => [`--snapshot=${snapshot}`] },
  };
}

/** A database name as a libpq conninfo, so names with '=' or spaces are never read as options. */
function dbConninfo(db: string): string {
  return `dbname='${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function parseDatabaseList(output: string): { name: string; size: number }[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', size = '0'] = line.split('\t');
      return { name, size: Number(size) || 0 };
    });
}

const GLOBALS_OBJECT = /(^|_)globals\.sql(\.gz|\.zst)?$/;
const DUMP_OBJECT = /\.dump(\.gz|\.zst)?$/;

/** `globals.sql` (`{Name}_globals.sql` in legacy folders), [.gz|.zst]: the roles and tablespaces. */
export const isGlobalsObject = (name: string): boolean => GLOBALS_OBJECT.test(name);
/** `….dump[.gz|.zst]`: one database's pg_dump -Fc. */
export const isDatabaseDump = (name: string): boolean => DUMP_OBJECT.test(name);

export const postgres: Engine = {
  name: 'Postgres',
  configKey: 'postgres',
  aliases: ['postgresql', 'pg'],
  tools: ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore'],

  inventory: (t: DumpSource) => ({
    argv: ['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', LIST_DATABASES],
    ...connection(t),
  }),

  dumpSteps(t: DumpSource, inventoryOutput: string): DumpStep[] {
    const globals: DumpStep = {
      command: { argv: ['pg_dumpall', '--globals-only', '--no-password', '-l', 'postgres'], ...connection(t) },
      objectName: 'globals.sql',
      compression: 'none',
      small: true,
    };
    const databases = parseDatabaseList(inventoryOutput).map((db) => dumpDatabaseStep(t, db.name, t, db.size));
    return [globals, ...databases];
  },

  /**
   * The globals first (roles must exist before the objects they own), filtered so roles the target already has are
   * left alone, with ON_ERROR_STOP; then one pg_restore per database, read from stdin. See pgRestoreCommand.
   */
  restoreSteps(objectNames: string[], to: RestoreTarget, source: RestoreSource = { databaseOf: databaseOfObject }): RestoreStep[] {
    const steps: RestoreStep[] = [];
    const globals = objectNames.find(isGlobalsObject);
    if (globals && !to.noOwner) {
      const existing = to.existingRoles ?? [];
      steps.push({
        objectName: globals,
        compression: compressionOf(globals),
        command: { argv: ['psql', '-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres'], ...connection(to) },
        filter: () => globalsFilter(existing, to.onRoleCreated),
        completionMarker: GLOBALS_COMPLETE,
      });
    }
    for (const objectName of objectNames.filter(isDatabaseDump)) {
      if (to.database !== undefined && source.databaseOf(objectName) !== to.database) continue;
      steps.push({ objectName, compression: compressionOf(objectName), command: pgRestoreCommand(to) });
    }
    return steps;
  },
};

/**
 * `{encodeName(db)}.dump[.gz|.zst]` → db. Legacy folders named it `{segment}_{db}.dump` with a lossy db: give their
 * segment to cut it off (their manifests, where present, hold the real name).
 */
export function databaseOfObject(objectName: string, legacySegment?: string): string {
  const base = objectName.replace(/\.dump(\.gz|\.zst)?$/, '');
  if (legacySegment !== undefined) return base.startsWith(`${legacySegment}_`) ? base.slice(legacySegment.length + 1) : base;
  return decodeName(base) ?? base;
}

/**
 * pg_restore reading a custom-format archive from stdin, stopping at the first error. Into a named database: one
 * transaction, so a failure (a truncated or corrupt archive included) leaves it as it was. Otherwise --create
 * recreates the database under its own name, with its settings; a failure there leaves a half database the caller
 * drops.
 */
export function pgRestoreCommand(to: RestoreTarget): Command {
  const argv: [string, ...string[]] = ['pg_restore', '--exit-on-error', '--no-password'];
  if (to.intoDatabase !== undefined) argv.push('--single-transaction');
  else argv.push('--create');
  if (to.clean) argv.push('--clean', '--if-exists');
  if (to.noOwner) argv.push('--no-owner', '--no-privileges');
  argv.push('-d', to.intoDatabase !== undefined ? dbConninfo(to.intoDatabase) : 'postgres');
  return { argv, ...connection(to) };
}

/** The last comment pg_dumpall writes: a globals object without it is truncated. */
export const GLOBALS_COMPLETE = '-- PostgreSQL database cluster dump complete';

const ROLE_STATEMENT = /^(?:CREATE|ALTER|COMMENT ON) ROLE ("(?:[^"]|"")+"|[^\s;"]+)[\s;]/;

/** A role name as pg_dumpall quotes it (`"Mixed Case"`, `plain`) → the name. */
function unquoteIdentifier(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text;
}

/**
 * pg_dumpall --globals-only output, minus the CREATE ROLE / ALTER ROLE / COMMENT ON ROLE statements of roles the
 * target already has: restoring a backup never changes an existing role's password or attributes (the admin
 * account's included), and CREATE ROLE cannot fail on them, so the SQL runs with ON_ERROR_STOP. Each of these
 * statements is one line in pg_dumpall's output.
 */
export function globalsFilter(existingRoles: readonly string[], onCreate?: (role: string) => void): LineFilter {
  const existing = new Set(existingRoles);
  return {
    line(text) {
      const match = ROLE_STATEMENT.exec(text);
      const role = match?.[1] ? unquoteIdentifier(match[1]) : undefined;
      if (role !== undefined && existing.has(role)) return `-- mydb-backup: role ${match?.[1]} exists on the target: left as it is`;
      if (role !== undefined && text.startsWith('CREATE ROLE ')) onCreate?.(role);
      return text;
    },
  };
}
