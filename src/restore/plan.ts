// What a restore will do, decided before anything is written: which objects go through which command into which
// database, after asking the target what it holds. A non-empty target database is refused unless --force; databases
// this restore creates are dropped again if it fails, so a failed restore leaves the target as it was wherever the
// engine allows (PostgreSQL: always; MariaDB: not for a whole-server restore, whose statements commit one by one).
import type { RestoreStep, RestoreTarget } from '../engines/types.js';
import { isDatabaseDump, postgres } from '../engines/postgres.js';
import { MARIADB_DUMP_COMPLETE, mariadbDatabaseFilter } from '../engines/mariadb-filter.js';
import { ConfigError } from '../errors.js';
import type { Masker } from '../util/mask.js';
import { mariadbDropDatabase, mariadbUserDatabases } from './mariadb-server.js';
import { pgCreateDatabase, pgDatabaseState, pgDropDatabase, pgDropRole, pgRoles } from './postgres-server.js';
import { backupLabel, databaseOf, type BackupSource } from './source.js';
import type { RestoreDestination } from './target.js';

export interface RestoreRequest {
  source: BackupSource;
  destination: RestoreDestination;
  /** --database: only this database of the backup (its name in the backup). */
  database?: string;
  /** Replace what non-empty target databases hold. */
  force: boolean;
}

export interface RestorePlan {
  steps: RestoreStep[];
  /** The target databases written (for messages and the action_log row); empty: the whole server. */
  databases: string[];
  /** Runs before the first step (creates the databases renamed restores load into). */
  prepare(): Promise<void>;
  /** Runs when a step failed: drops the databases this restore created. Never throws; returns what it did. */
  undo(): Promise<string[]>;
  /** What the operator should know (e.g. a whole-server MariaDB restore is not atomic). */
  notes: string[];
}

export async function planRestore(req: RestoreRequest, mask: Masker): Promise<RestorePlan> {
  const { source, destination } = req;
  if (source.engine.configKey !== destination.engine) {
    throw new ConfigError(`backup ${backupLabel(source)} of '${source.name}' is a ${source.engine.name} backup: it cannot be restored into ${destination.label}`);
  }
  switch (destination.engine) {
    case 'postgres':
      return planPostgres(req);
    case 'mariadb':
      return planMariadb(req, mask);
    case 'mongodb':
      return planMongodb(req);
  }
}


async function undoAll(names: string[], drop: (db: string) => Promise<void>): Promise<string[]> {
  const done: string[] = [];
  for (const db of names) {
    try {
      await drop(db);
      done.push(`dropped database ${db}, which this restore had created`);
    } catch (err) {
      done.push(`could not drop database ${db}, which this restore had created: ${(err as Error).message}`);
    }
  }
  return done;
}

/**
 * PostgreSQL: the globals (roles the target lacks), then one pg_restore per database. A database that exists is
 * restored into in one transaction (--clean with --force); one that does not is recreated by pg_restore --create
 * under its own name, or created empty first when --to names another.
 */
async function planPostgres(req: RestoreRequest): Promise<RestorePlan> {
  const { source, destination } = req;
  const { conn } = destination;
  const objectNames = source.folder.objects.map((o) => o.name);
  const dumps = objectNames.filter(isDatabaseDump).map((object) => ({ object, db: databaseOf(source, object) }));
  const held = dumps.map((d) => d.db).join(', ') || 'none';
  const chosen = req.database === undefined ? dumps : dumps.filter((d) => d.db === req.database);
  if (chosen.length === 0) {
    throw new ConfigError(
      req.database === undefined
        ? `backup ${backupLabel(source)} of '${source.name}' holds no database dump`
        : `backup ${backupLabel(source)} of '${source.name}' holds no database '${req.database}' (it holds: ${held})`,
    );
  }
  const into = destination.database;
  if (into !== undefined && chosen.length > 1) {
    throw new ConfigError(`--to names one database (${into}) but backup ${backupLabel(source)} of '${source.name}' holds ${chosen.length} (${held}): choose one with --database`);
  }

  const roles = await pgRoles(conn);
  /** Roles the globals created on the target: dropped again when the restore fails, after its databases. */
  const createdRoles = new Set<string>();
  const targets = [];
  for (const d of chosen) {
    const name = into ?? d.db;
    targets.push({ ...d, name, state: await pgDatabaseState(conn, name) });
  }
  const busy = targets.filter((t) => t.state.tables > 0);
  if (busy.length && !req.force) {
    throw new ConfigError(
      `refusing to restore into non-empty ${busy.map((t) => `database ${t.name} (${t.state.tables} tables)`).join(', ')} on ${destination.label}: ` +
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
    for (const step of postgres.restoreSteps(objectNames, to, { databaseOf: (o) => databaseOf(source, o) })) {
      // The globals once, before the first database.
      if (!steps.some((s) => s.objectName === step.objectName)) steps.push(step);
    }
  }
  return {
    steps,
    databases: targets.map((t) => t.name),
    prepare: async () => {
      for (const db of create) await pgCreateDatabase(conn, db);
    },
    undo: async () => {
      const done = await undoAll(dropOnFailure, (db) => pgDropDatabase(conn, db));
      for (const role of createdRoles) {
        try {
          await pgDropRole(conn, role);
          done.push(`dropped role ${role}, which this restore had created`);
        } catch (err) {
          done.push(`could not drop role ${role}, which this restore had created: ${(err as Error).message}`);
        }
      }
      return done;
    },
    // Tablespaces the globals create stay: their directories are the server's, not the restore's to remove.
    notes: [],
  };
}

/**
 * MariaDB: the one --all-databases dump through the mariadb client. Whole server: refused when the target holds any
 * user database with tables (unless --force). One database (--database, optionally renamed by --to …/NAME): the
 * other databases' sections are filtered out of the stream.
 */
async function planMariadb(req: RestoreRequest, mask: Masker): Promise<RestorePlan> {
  const { source, destination } = req;
  const { conn } = destination;
  if (destination.database !== undefined && req.database === undefined) {
    throw new ConfigError(`--to names the database ${destination.database}: say which database of the backup goes there with --database`);
  }
  const objectNames = source.folder.objects.map((o) => o.name);
  const steps = source.engine.restoreSteps(objectNames, { ...conn }, { databaseOf: (o) => databaseOf(source, o) });
  if (steps.length === 0) throw new ConfigError(`backup ${backupLabel(source)} of '${source.name}' holds no MariaDB dump (objects: ${objectNames.join(', ')})`);
  const existing = await mariadbUserDatabases(conn, mask);

  if (req.database === undefined) {
    const busy = [...existing].filter(([, tables]) => tables > 0);
    if (busy.length && !req.force) {
      throw new ConfigError(
        `refusing to restore a whole server onto ${destination.label}, which holds ${busy.map(([db, n]) => `${db} (${n} tables)`).join(', ')}: ` +
          'pass --force to replace the databases the backup holds (and its users and grants), or restore one database with --database',
      );
    }
    return {
      // A plain .sql without mariadb-dump's completion comment is cut short: the client is stopped before its end.
      steps: steps.map((s) => ({ completionMarker: MARIADB_DUMP_COMPLETE, ...s })),
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
  const name = destination.database ?? wanted;
  const tables = existing.get(name);
  if (tables !== undefined && tables > 0 && !req.force) {
    throw new ConfigError(`refusing to restore into non-empty database ${name} (${tables} tables) on ${destination.label}: pass --force to replace it, or restore into another database (--to …/NEWNAME)`);
  }
  const filter = () => mariadbDatabaseFilter((db) => (db === wanted ? name : null), `database '${wanted}'`);
  return {
    steps: steps.map((s) => ({ completionMarker: MARIADB_DUMP_COMPLETE, ...s, filter })),
    databases: [name],
    prepare: async () => {},
    undo: () => (tables === undefined ? undoAll([name], (db) => mariadbDropDatabase(conn, db, mask)) : Promise.resolve([])),
    notes: [],
  };
}

/** MongoDB: mongorestore --drop replaces the collections the archive holds. No client here to look first: --force. */
async function planMongodb(req: RestoreRequest): Promise<RestorePlan> {
  const { source, destination } = req;
  if (req.database !== undefined) throw new ConfigError('--database is not supported for MongoDB backups yet: the archive is restored whole');
  if (!req.force) {
    throw new ConfigError(
      `cannot check whether ${destination.label} is empty (no MongoDB client here); mongorestore --drop replaces the collections the archive holds: pass --force to go ahead`,
    );
  }
  const objectNames = source.folder.objects.map((o) => o.name);
  const steps = source.engine.restoreSteps(objectNames, { ...destination.conn }, { databaseOf: (o) => databaseOf(source, o) });
  if (steps.length === 0) throw new ConfigError(`backup ${backupLabel(source)} of '${source.name}' holds no MongoDB archive (objects: ${objectNames.join(', ')})`);
  return { steps, databases: [], prepare: async () => {}, undo: async () => [], notes: [] };
}
