// PostgreSQL: the roles and tablespaces (pg_dumpall --globals-only) plus one custom-format dump per database.
import type { Command, DatabaseStats, DumpStep, EngineRestoreRequest, LineFilter, RestorePlan, RestoreSource, RestoreStep, RestoreTarget, ServerConnection, ServerDatabase, DumpSource, TargetServer, VerifyBackup, VerifyIo } from './types.js';
import { COMPRESSION_SUFFIX, compressionOf, type Compression } from './compression.js';
import { defineEngine } from './define.js';
import { dropCreated, requireServer } from './restore-support.js';
import { parseDbUrl } from './url.js';
import { ConfigError } from '../errors.js';
import { decodeName, encodeName } from '../storage/layout.js';

type PgConnection = ServerConnection;

function connection(t: PgConnection): Pick<Command, 'env' | 'secretEnv'> {
  return {
    env: { PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGCONNECT_TIMEOUT: '15', PGAPPNAME: 'mydb-backup', ...t.extraEnv },
    ...(t.password ? { secretEnv: { PGPASSWORD: t.password } } : {}),
  };
}

/** A postgresql:// URL (the admin DB's) → connection settings and database, the password kept out of argv. */
export function connectionFromUrl(url: string): PgConnection & { database: string } {
  const { conn, database } = parseDbUrl(url, [postgres]);
  return { ...conn, user: conn.user ?? '', database: database ?? '' };
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
 * compression (-Z0) unless asked for: pg_dump compresses with zlib on one core, and `pg_dump -Fc` spends about 5 times
 * the CPU of `pg_dump -Fc -Z0` and the pipeline's zstd together, for about the same bytes (BENCHMARKS.md, "PostgreSQL
 * compression").
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
    rowCounting: { kind: 'snapshot', conn, database, snapshotArgs: (snapshot) => [`--snapshot=${snapshot}`] },
  };
}

/**
 * pg_dumpall --globals-only: the server's roles and tablespaces, which the objects of its databases are owned by and
 * granted to; restore applies them first. Without role passwords it reads pg_roles instead of pg_authid, which needs
 * no superuser (the admin DB's account need not be one), and the roles come back without passwords.
 */
export function globalsStep(conn: PgConnection, how: { database: string; rolePasswords: boolean }): DumpStep {
  const passwords = how.rolePasswords ? [] : ['--no-role-passwords'];
  return {
    command: { argv: ['pg_dumpall', '--globals-only', ...passwords, '--no-password', '-l', dbConninfo(how.database)], ...connection(conn) },
    objectName: 'globals.sql',
    compression: 'none',
    small: true,
  };
}

/** A database name as a libpq conninfo, so names with '=' or spaces are never read as options. */
function dbConninfo(db: string): string {
  return `dbname='${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const GLOBALS_OBJECT = /(^|_)globals\.sql(\.gz|\.zst)?$/;
const DUMP_OBJECT = /\.dump(\.gz|\.zst)?$/;

/** `globals.sql` (`{Name}_globals.sql` in legacy folders), [.gz|.zst]: the roles and tablespaces. */
export const isGlobalsObject = (name: string): boolean => GLOBALS_OBJECT.test(name);
/** `….dump[.gz|.zst]`: one database's pg_dump -Fc. */
export const isDatabaseDump = (name: string): boolean => DUMP_OBJECT.test(name);

export const postgres = defineEngine({
  name: 'Postgres',
  key: 'postgres',
  aliases: ['postgresql', 'pg'],
  tools: ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore'],
  settings: {
    defaultUser: 'pgdba',
    // pg_dump -Fc -Z0 through zstd stores about as much as pg_dump's own zlib at a fraction of its CPU
    // (BENCHMARKS.md); 'pgdump' keeps pg_dump -Fc's zlib and a plain .dump.
    defaultCompression: 'zstd',
    nativeCompression: 'pgdump',
    verifyServer: true,
  },
  urls: { schemes: ['postgresql', 'postgres'], defaultPort: 5432, pathIsDatabase: true, queryEnv: { sslmode: 'PGSSLMODE' } },
  server: 'postgres',

  dumpsPerDatabase: true,

  dumpSteps(t: DumpSource, databases: readonly ServerDatabase[]): DumpStep[] {
    return [globalsStep(t, { database: 'postgres', rolePasswords: true }), ...databases.map((db) => dumpDatabaseStep(t, db.name, t, db.size))];
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
      steps.push({ objectName, compression: compressionOf(objectName), command: pgRestoreCommand(to), truncationCheck: PG_RESTORE_TRUNCATION });
    }
    return steps;
  },

  ownsObjects: (objectNames) => objectNames.some((n) => isDatabaseDump(n) || isGlobalsObject(n)),
  planRestore: planPostgres,
  verification: { unit: 'table', run: verifyPostgres },
});

/** Why a database dump's restore step has no completion marker. */
const PG_RESTORE_TRUNCATION = 'pg_restore reads the custom-format archive to its end and fails on one cut short';

/**
 * The globals (roles the target lacks), then one pg_restore per database. A database that exists is restored into in
 * one transaction (--clean with --force); one that does not is recreated by pg_restore --create under its own name, or
 * created empty first when --to names another. A failure drops the databases and roles this restore created.
 */
async function planPostgres(req: EngineRestoreRequest, target: TargetServer | undefined): Promise<RestorePlan> {
  const server = requireServer(target, 'PostgreSQL', 'roles', 'dropRole', 'databaseState', 'createDatabase');
  const { objectNames, conn } = req;
  const dumps = objectNames.filter(isDatabaseDump).map((object) => ({ object, db: req.databaseOf(object) }));
  const held = dumps.map((d) => d.db).join(', ') || 'none';
  const chosen = req.database === undefined ? dumps : dumps.filter((d) => d.db === req.database);
  if (chosen.length === 0) {
    throw new ConfigError(
      req.database === undefined ? `${req.backup} holds no database dump` : `${req.backup} holds no database '${req.database}' (it holds: ${held})`,
    );
  }
  const into = req.into;
  if (into !== undefined && chosen.length > 1) {
    throw new ConfigError(`--to names one database (${into}) but ${req.backup} holds ${chosen.length} (${held}): choose one with --database`);
  }

  const roles = await server.roles();
  /** Roles the globals created on the target: dropped again when the restore fails, after its databases. */
  const createdRoles = new Set<string>();
  const targets = [];
  for (const d of chosen) {
    const name = into ?? d.db;
    targets.push({ ...d, name, state: await server.databaseState(name) });
  }
  const busy = targets.filter((t) => t.state.tables > 0);
  if (busy.length && !req.force) {
    throw new ConfigError(
      `refusing to restore into non-empty ${busy.map((t) => `database ${t.name} (${t.state.tables} tables)`).join(', ')} on ${req.target}: ` +
        'pass --force to replace the objects the backup holds, or restore into another database (--to …/NEWNAME)',
    );
  }

  const steps: RestoreStep[] = [];
  const create: string[] = [];
  const dropOnFailure: string[] = [];
  for (const t of targets) {
    const to: RestoreTarget = { ...conn, database: t.db, existingRoles: roles, onRoleCreated: (role) => createdRoles.add(role), clean: t.state.tables > 0 };
    if (t.state.exists) to.intoDatabase = t.name;
    else if (into !== undefined) {
      to.intoDatabase = t.name;
      create.push(t.name);
    }
    if (!t.state.exists) dropOnFailure.push(t.name);
    for (const step of postgres.restoreSteps(objectNames, to, req)) {
      // The globals once, before the first database.
      if (!steps.some((s) => s.objectName === step.objectName)) steps.push(step);
    }
  }
  return {
    steps,
    databases: targets.map((t) => t.name),
    prepare: async () => {
      for (const db of create) await server.createDatabase(db);
    },
    undo: async () => [
      ...(await dropCreated('database', dropOnFailure, (db) => server.dropDatabase(db))),
      ...(await dropCreated('role', createdRoles, (role) => server.dropRole(role))),
    ],
    // Tablespaces the globals create stay: their directories are the server's, not the restore's to remove.
    notes: [],
  };
}

const lowerSafe = (s: string) => s.toLowerCase().replace(/[^a-z0-9_]+/g, '_');

/**
 * Each database dump into its own scratch database (pg_restore --single-transaction, without owners and grants:
 * the verification server has not the container's roles); the globals are read whole and checked for completeness.
 */
async function verifyPostgres(backup: VerifyBackup, target: TargetServer | undefined, io: VerifyIo, stats: DatabaseStats[]): Promise<number> {
  const server = requireServer(target, 'PostgreSQL', 'createDatabase');
  const names = backup.objectNames;
  let bytes = 0;
  const globals = names.find(isGlobalsObject);
  if (globals) bytes += (await io.readThrough(globals, { compression: compressionOf(globals), completionMarker: GLOBALS_COMPLETE })).bytes;
  const dumps = names.filter(isDatabaseDump);
  if (dumps.length === 0) throw new Error(`${backup.backup} holds no database dump (objects: ${names.join(', ') || 'none'})`);
  for (const [i, object] of dumps.entries()) {
    const db = backup.databaseOf(object);
    const scratch = `${io.scratch}_${i + 1}_${lowerSafe(db)}`.slice(0, 63);
    await server.createDatabase(scratch);
    try {
      for (const step of postgres.restoreSteps([object], { ...server.conn, intoDatabase: scratch, noOwner: true }, backup)) bytes += await io.streamInto(step);
      stats.push(await server.databaseStats(scratch, db));
    } finally {
      await server.dropDatabase(scratch).catch((err: unknown) => io.notDropped(scratch, err));
    }
  }
  return bytes;
}

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
