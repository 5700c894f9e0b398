// MariaDB (and MySQL): the whole server in one consistent logical dump, `all-databases.sql` (+ .gz / .zst).
import type { Command, DatabaseStats, DumpStep, EngineRestoreRequest, RestorePlan, RestoreStep, RestoreTarget, DumpSource, TargetServer, VerifyBackup, VerifyIo } from './types.js';
import { MariadbRowCounter } from '../counts/mariadb-sql.js';
import { ConfigError } from '../errors.js';
import { COMPRESSION_SUFFIX, compressionOf } from './compression.js';
import { defineEngine } from './define.js';
import { MARIADB_DUMP_COMPLETE, MARIADB_SYSTEM_DATABASES, mariadbDatabaseFilter } from './mariadb-filter.js';
import { dropCreated, requireServer } from './restore-support.js';

/** The largest packet either side may need for one row or one extended INSERT (the server's own limit is 1 GiB). */
const MAX_PACKET = '--max-allowed-packet=1G';

/**
 * One string as a MariaDB option-file value: double-quoted, with the escapes the option-file reader undoes (\\ \" \n
 * \r \t), so '#', ';', quotes, backslashes and surrounding spaces all survive.
 */
export function optionFileValue(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/**
 * How the client reaches the server. With a password: `--defaults-file=<0600 file>` holding it, which must be the
 * program's first argument, and which also keeps ~/.my.cnf and /etc/mysql out (a password there would otherwise win
 * over ours: the user file is read after --defaults-extra-file). Without one: the usual option files apply, so an
 * operator's ~/.my.cnf can hold it.
 */
function connection(t: { host: string; port: number; user: string; password?: string }): {
  args: string[];
  configFile?: Command['configFile'];
} {
  const args = [`--host=${t.host}`, `--port=${t.port}`, '--protocol=TCP', `--user=${t.user}`];
  if (t.password === undefined) return { args };
  return {
    args,
    configFile: {
      content: `[client]\npassword=${optionFileValue(t.password)}\n`,
      args: (path) => [`--defaults-file=${path}`],
      position: 'first',
    },
  };
}

/** A MariaDB client program with the connection and its password file: the engine's dumps and restores, and restore's queries. */
export function mariadbCommand(program: string, t: { host: string; port: number; user: string; password?: string }, options: string[]): Command {
  const { args, configFile } = connection(t);
  return { argv: [program, ...args, ...options], ...(configFile ? { configFile } : {}) };
}

/**
 * A consistent, restorable dump of a live server, without locking it:
 * - --single-transaction: one REPEATABLE READ snapshot for every InnoDB table (no FLUSH TABLES WITH READ LOCK,
 *   no RELOAD/LOCK TABLES needed); non-transactional tables (MyISAM, Aria: the mysql schema) are read as they are.
 *   No --master-data/--gtid: nothing replicates from these servers.
 * - --quick: rows streamed, never buffered by the client.
 * - --all-databases (the mysql schema, so users and grants, included) with --add-drop-database and
 *   --flush-privileges, so loading it recreates the server's databases and accounts.
 * - --routines --events --triggers: the code lives in the dump too; --hex-blob: binary columns survive any charset.
 * - utf8mb4 on the connection, --tz-utc (default) so TIMESTAMPs do not move with the time zone.
 */
const DUMP_OPTIONS = [
  '--single-transaction',
  '--quick',
  '--all-databases',
  '--routines',
  '--events',
  '--triggers',
  '--hex-blob',
  '--default-character-set=utf8mb4',
  '--add-drop-database',
  '--flush-privileges',
  '--tz-utc',
  MAX_PACKET,
];

/**
 * Loading a dump: --binary-mode so '\0' and '\r\n' in data are not taken for client commands; batch mode (stdin is
 * not a terminal) stops at the first error, so no --force.
 */
const RESTORE_OPTIONS = ['--batch', '--binary-mode', '--default-character-set=utf8mb4', MAX_PACKET];

/** A plain-SQL object of one of its backups: what a restore loads. */
const DUMP_OBJECT = /\.sql(\.gz|\.zst)?$/;
/** Its objects' names: `all-databases.sql`, and `{segment}_{backup_id}.sql` in legacy folders (`YYYY-MM-DD_HH:MM:SS[.N]`). */
const OWN_OBJECT = /(^all-databases|_\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d(\.\d+)?)\.sql(\.gz|\.zst)?$/;

export const mariadb = defineEngine({
  name: 'MariaDB',
  key: 'mariadb',
  aliases: ['mysql'],
  tools: ['mariadb-dump', 'mariadb'],
  // zstd: faster than no compression (fewer bytes to send) and far cheaper than gzip (the figures: BENCHMARKS.md).
  settings: { defaultUser: 'root', defaultCompression: 'zstd', verifyServer: true },
  urls: { schemes: ['mariadb', 'mysql'], defaultPort: 3306, pathIsDatabase: true },
  server: 'mariadb',

  dumpSteps(t: DumpSource): DumpStep[] {
    return [
      {
        command: mariadbCommand('mariadb-dump', t, DUMP_OPTIONS),
        objectName: `all-databases.sql${COMPRESSION_SUFFIX[t.compression]}`,
        compression: t.compression,
        // The INSERT tuples in the dump stream: InnoDB cannot share a snapshot with a counting connection.
        rowCounting: { kind: 'stream', counter: () => new MariadbRowCounter() },
      },
    ];
  },

  restoreSteps(objectNames: string[], to: RestoreTarget): RestoreStep[] {
    return objectNames
      .filter((n) => DUMP_OBJECT.test(n))
      .map((objectName) => ({
        objectName,
        compression: compressionOf(objectName),
        command: mariadbCommand('mariadb', to, RESTORE_OPTIONS),
        // A plain .sql without mariadb-dump's completion comment is cut short: the client is stopped before its end.
        completionMarker: MARIADB_DUMP_COMPLETE,
      }));
  },

  ownsObjects: (objectNames) => objectNames.some((n) => OWN_OBJECT.test(n)),
  planRestore: planMariadb,
  verification: { unit: 'table', ignoreDatabases: MARIADB_SYSTEM_DATABASES, run: verifyMariadb },
});

/**
 * The one --all-databases dump through the mariadb client. Whole server: refused when the target holds any user
 * database with tables (unless --force). One database (--database, optionally renamed by --to …/NAME): the other
 * databases' sections are filtered out of the stream; a failure drops it again if this restore created it.
 */
async function planMariadb(req: EngineRestoreRequest, target: TargetServer | undefined): Promise<RestorePlan> {
  const server = requireServer(target, 'MariaDB', 'userDatabases');
  if (req.into !== undefined && req.database === undefined) {
    throw new ConfigError(`--to names the database ${req.into}: say which database of the backup goes there with --database`);
  }
  const steps = mariadb.restoreSteps(req.objectNames, { ...req.conn });
  if (steps.length === 0) throw new ConfigError(`${req.backup} holds no MariaDB dump (objects: ${req.objectNames.join(', ')})`);
  const existing = await server.userDatabases();

  if (req.database === undefined) {
    const busy = [...existing].filter(([, tables]) => tables > 0);
    if (busy.length && !req.force) {
      throw new ConfigError(
        `refusing to restore a whole server onto ${req.target}, which holds ${busy.map(([db, n]) => `${db} (${n} tables)`).join(', ')}: ` +
          'pass --force to replace the databases the backup holds (and its users and grants), or restore one database with --database',
      );
    }
    return {
      steps,
      databases: [],
      prepare: async () => {},
      undo: async () => [],
      notes: [
        'a whole-server MariaDB restore commits statement by statement: a failure leaves what was loaded so far',
        "it also restores the mysql schema: the server's users, grants and passwords become the backup's",
      ],
    };
  }

  const wanted = req.database;
  const name = req.into ?? wanted;
  const tables = existing.get(name);
  if (tables !== undefined && tables > 0 && !req.force) {
    throw new ConfigError(`refusing to restore into non-empty database ${name} (${tables} tables) on ${req.target}: pass --force to replace it, or restore into another database (--to …/NEWNAME)`);
  }
  const filter = () => mariadbDatabaseFilter((db) => (db === wanted ? name : null), `database '${wanted}'`);
  return {
    steps: steps.map((s) => ({ ...s, filter })),
    databases: [name],
    prepare: async () => {},
    undo: () => (tables === undefined ? dropCreated('database', [name], (db) => server.dropDatabase(db)) : Promise.resolve([])),
    notes: [],
  };
}

/** The dump with every user database renamed to `{scratch}_{name}`; the mysql schema (users, grants) left out. */
async function verifyMariadb(backup: VerifyBackup, target: TargetServer | undefined, io: VerifyIo, stats: DatabaseStats[]): Promise<number> {
  const server = requireServer(target, 'MariaDB', 'userDatabases');
  const prefix = `${io.scratch}_`;
  const system: readonly string[] = MARIADB_SYSTEM_DATABASES;
  const filter = () => mariadbDatabaseFilter((db) => (system.includes(db) ? null : `${prefix}${db}`.slice(0, 64)), 'user database');
  const names = backup.objectNames;
  const steps = mariadb.restoreSteps(names, { ...server.conn }).map((s) => ({ ...s, filter }));
  if (steps.length === 0) throw new Error(`${backup.backup} holds no MariaDB dump (objects: ${names.join(', ') || 'none'})`);
  let bytes = 0;
  const scratchDatabases = async () => [...(await server.userDatabases()).keys()].filter((d) => d.startsWith(prefix));
  try {
    for (const step of steps) bytes += await io.streamInto(step);
    for (const db of (await scratchDatabases()).sort()) stats.push(await server.databaseStats(db, db.slice(prefix.length)));
  } finally {
    const leftovers = await scratchDatabases().catch(() => [] as string[]);
    for (const db of leftovers) await server.dropDatabase(db).catch((err: unknown) => io.notDropped(db, err));
  }
  return bytes;
}
