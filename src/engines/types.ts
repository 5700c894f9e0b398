// What an engine is: everything about one kind of database server, as data and pure functions: its settings, its URLs,
// its dump and restore commands, its objects, how its rows are counted, how a restore is planned and a backup
// verified. Engines spawn nothing and touch no network: the pipeline (src/pipeline/) runs what they describe, and
// restore/ hands them the target server's answers (TargetServer) and the streaming (VerifyIo).
import type { Container } from '../admin-db/container-info.js';
import type { StreamRowCounter } from '../counts/stream.js';
import type { RowCounts } from '../counts/types.js';
import type { Compression } from './compression.js';

export interface Command {
  /** Program and arguments. Never a secret in here: secrets go in secretEnv or configFile. */
  argv: [string, ...string[]];
  /** Plain environment for the child (shown in the masked command). */
  env?: Record<string, string>;
  /** Secret environment (PGPASSWORD, MYSQL_PWD): passed to the child, shown as NAME=*** . */
  secretEnv?: Record<string, string>;
  /**
   * A 0600 temp file the pipeline writes before the run and removes after; `args(path)` is appended to argv, or
   * inserted right after the program name when `position` is 'first' (MariaDB reads --defaults-file only there).
   */
  configFile?: { content: string; args: (path: string) => string[]; position?: 'first' | 'last' };
}

/** How a tool or a client reaches a server (the password only ever in env, a 0600 file or the client). */
export interface ServerConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** libpq settings from a URL (PGSSLMODE...). */
  extraEnv?: Record<string, string>;
}

/**
 * How a backup counts the rows it writes, so a verification can compare them after a test restore; the pipeline runs
 * what the engine gives (pipeline/row-counting.ts):
 * - snapshot: exact counts in the dump's own PostgreSQL snapshot (exported by a connection, imported by the dump
 *   command through snapshotArgs);
 * - stream: a counter the dump's stream is shown as it passes; `invalidDump`: a counter that rejects the stream
 *   proves the dump unrestorable, and the backup fails with this sentence (otherwise only the counting stops).
 */
export type RowCounting =
  | { kind: 'snapshot'; conn: ServerConnection; database: string; snapshotArgs: (snapshot: string) => string[] }
  | { kind: 'stream'; counter: () => StreamRowCounter; invalidDump?: string };

/** The server being backed up: one container's, reached with the engine's admin account, and how its dump is compressed. */
export interface DumpSource {
  container: Container;
  host: string;
  port: number;
  user: string;
  password?: string;
  /** The stream compression the pipeline applies to the dump (its objects' suffix). */
  compression: Compression;
  /**
   * The dump tool compresses its output itself, and the pipeline adds nothing (compression is 'none'): PostgreSQL with
   * BACKUP_COMPRESS_POSTGRES=pgdump, pg_dump -Fc's own zlib.
   */
  nativeCompression?: boolean;
}

/** One object in S3, streamed from one command's stdout. */
export interface DumpStep {
  command: Command;
  /** File name in the backup's folder, compression suffix included (storage/layout.ts). */
  objectName: string;
  /** The database this object holds, by its real name (recorded in the manifest; restore finds it by it). */
  database?: string;
  compression: Compression;
  /** Expected size in bytes, when the server can tell (sizes the upload's parts). */
  sizeHint?: number;
  /** Known to be a few KiB (the globals): not worth reading through a FIFO (stream-step.ts). */
  small?: boolean;
  rowCounting?: RowCounting;
}

/** One object read back from S3 into a command's stdin. */
export interface RestoreStep {
  objectName: string;
  /**
   * What the pipeline decompresses before the command's stdin. Usually what the name says, but not always: MongoDB's
   * `archive.gz` is gzipped by mongodump itself (--gzip), which mongorestore --gzip undoes, so it is 'none' here.
   */
  compression: Compression;
  command: Command;
  /** Plain-SQL objects: an edit of the decompressed stream, line by line, before the command reads it. */
  filter?: () => LineFilter;
  /**
   * A line the end of the decompressed stream must hold (the dump tool's completion comment). Without it the object
   * is truncated: the command is stopped before it reads the end of its input, and the restore fails.
   */
  completionMarker?: string;
  /** Without a completionMarker: what notices a truncated object instead (the format's own end, read by the tool). */
  truncationCheck?: string;
}

/** A line-by-line edit of one plain-SQL stream; made fresh per stream, so it may keep state. Pure: no I/O. */
export interface LineFilter {
  /** The line (without its newline) as the command should read it, or null to leave it out. */
  line(text: string): string | null;
  /** At the end of the stream: throws when something the filter was asked for never came. */
  end?(): void;
}

export interface RestoreTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Restore only this database of the backup (its name in the object names; PostgreSQL: which .dump object). */
  database?: string;
  /**
   * Load into this existing database instead of recreating the original under its own name (PostgreSQL: pg_restore
   * --single-transaction into it, so a failed restore leaves it as it was).
   */
  intoDatabase?: string;
  /** Replace what the target holds of the backup's objects (PostgreSQL: --clean --if-exists). */
  clean?: boolean;
  /** Leave out ownership, grants and roles (scratch restores on a verification server). */
  noOwner?: boolean;
  /** PostgreSQL: the roles the target already has; the globals neither create nor alter them (passwords stay). */
  existingRoles?: readonly string[];
  /** PostgreSQL: told each role the globals create, so that a failed restore can drop them again. */
  onRoleCreated?: (role: string) => void;
  /** Extra client settings (PGSSLMODE...) taken from a URL. */
  extraEnv?: Record<string, string>;
}

/** What restore knows of a backup's objects beyond their names. */
export interface RestoreSource {
  /** The database an object holds, by its real name (from the manifest, or the object's name). */
  databaseOf(objectName: string): string;
}

/** A table (or collection) and its exact row (document) count. */
export interface TableCount {
  /** schema.table (PostgreSQL), table (MariaDB), collection (MongoDB) */
  table: string;
  rows: number;
}

/** A database a backup dumps on its own (PostgreSQL), with its size on disk (bytes). */
export interface ServerDatabase {
  name: string;
  size: number;
}

/** What one database holds after a restore: what a verification reports. */
export interface DatabaseStats {
  database: string;
  tables: TableCount[];
  rows: number;
  largeObjects: number;
}

/**
 * What restore and verify ask of, and do to, a target server, and what a backup asks its source server first:
 * implemented in restore/ (restore/target-servers.ts) for each ServerProtocol, handed to the engine's plan and
 * verification. What only some engines need is optional: an engine asks for it with `requireServer`
 * (engines/restore-support.ts).
 */
export interface TargetServer {
  /** How its restore commands reach it. */
  readonly conn: ServerConnection;
  /** Throws when the server cannot be reached or will not answer (check). */
  ping(): Promise<void>;
  dropDatabase(database: string): Promise<void>;
  /** Every user table with its exact row count; reported under `label` (the database's name in the backup). */
  databaseStats(database: string, label?: string): Promise<DatabaseStats>;
  /** Does the database exist, and how many user tables does it hold (0 when it does not exist)? (PostgreSQL) */
  databaseState?(database: string): Promise<{ exists: boolean; tables: number }>;
  /** Creates an empty database, for a restore under another name or a scratch restore (PostgreSQL). */
  createDatabase?(database: string): Promise<void>;
  /** The user databases (system schemas left out), each with its number of tables (MariaDB). */
  userDatabases?(): Promise<Map<string, number>>;
  /** The databases a backup of the server dumps one by one, by name (PostgreSQL: templates and postgres left out). */
  databases?(): Promise<ServerDatabase[]>;
  /** The roles the server has (PostgreSQL). */
  roles?(): Promise<string[]>;
  /** Drops a role a failed restore created (PostgreSQL). */
  dropRole?(role: string): Promise<void>;
}

/**
 * How restore/ reaches a target server of the engine: one of a closed set, each implemented once in restore/ (a driver
 * or a client program) and listed in restore/target-servers.ts. An engine that speaks one of them needs nothing there.
 */
export type ServerProtocol = 'postgres' | 'mariadb';

/** What a restore will do, decided before anything is written. */
export interface RestorePlan {
  steps: RestoreStep[];
  /** The target databases written (for messages and the action_log row); empty: the whole server. */
  databases: string[];
  /** Runs before the first step (creates the databases renamed restores load into). */
  prepare(): Promise<void>;
  /** Runs when a step failed: drops the databases (and roles) this restore created. Never throws; says what it did. */
  undo(): Promise<string[]>;
  /** What the operator should know (e.g. a whole-server MariaDB restore is not atomic). */
  notes: string[];
}

/** A restore the engine plans: the backup's objects, where they go, and what the operator asked for. */
export interface EngineRestoreRequest extends RestoreSource {
  /** The backup's object names, as listed in S3. */
  objectNames: string[];
  /** `backup 2026-12-01_02:00:07 of 'shop'`: how messages name the backup. */
  backup: string;
  /** The target server's connection, and its label for messages (no password). */
  conn: ServerConnection;
  target: string;
  /** The database the target URL names (--to …/NAME): restore into it, under this name. */
  into?: string;
  /** --database: only this database of the backup (its name in the backup). */
  database?: string;
  /** Replace what non-empty target databases hold. */
  force: boolean;
}

/** The backup a verification reads. */
export interface VerifyBackup extends RestoreSource {
  objectNames: string[];
  /** `backup 2026-12-01_02:00:07`: how messages name it. */
  backup: string;
}

/** What a verification is handed by restore/: the streaming of the backup's objects, and a scratch name. */
export interface VerifyIo {
  /** Streams one object of the backup into the step's command; resolves to the bytes read from S3. */
  streamInto(step: RestoreStep): Promise<number>;
  /** Reads one object whole through the checks (and the counter, if any) into nothing. */
  readThrough(objectName: string, reading: Pick<RestoreStep, 'compression' | 'completionMarker'>, counter?: StreamRowCounter): Promise<{ bytes: number; counts?: RowCounts }>;
  /** The start of every scratch database's name this verification makes: `mydbverify_{UTC time}_{random}`. */
  scratch: string;
  /** A scratch database could not be dropped (the verification's outcome stands; this is logged). */
  notDropped(database: string, err: unknown): void;
}

/**
 * The engine's settings in the environment (names: engines/settings.ts): BACKUP_{KEY}_USER and _PASSWORD (a
 * secret), BACKUP_COMPRESS_{KEY}, and BACKUP_VERIFY_{KEY}_URL (its password a secret) where it has a verification
 * server.
 */
export interface EngineSettings {
  /** BACKUP_{KEY}_USER when unset: the admin account the web UI creates. */
  defaultUser: string;
  /** BACKUP_COMPRESS_{KEY} when unset. */
  defaultCompression: Compression;
  /** A choice of BACKUP_COMPRESS_{KEY} beyond the stream compressions: the dump tool's own compression, no stream one. */
  nativeCompression?: string;
  /** Test restores go to a server of its own (BACKUP_VERIFY_{KEY}_URL); without, the engine verifies without one. */
  verifyServer: boolean;
}

/** The engine's URLs (--to, BACKUP_VERIFY_{KEY}_URL): `scheme[+driver]://[user[:password]@]host[:port][/db][?…]`. */
export interface EngineUrls {
  /** Its schemes, the canonical one (labels, normalised settings) first. */
  schemes: readonly [string, ...string[]];
  defaultPort: number;
  /** The URL's path names a database (MongoDB's: there is nothing to restore into by name). */
  pathIsDatabase: boolean;
  /** Query parameters handed to the client tools as environment (libpq: sslmode → PGSSLMODE). */
  queryEnv?: Readonly<Record<string, string>>;
}

/** How the engine's backups are verified: a test restore, or a read of the objects (verification's outcome lines). */
export interface EngineVerification {
  /** What its rows are called in the outcome: tables and rows, or collections and documents. */
  unit: 'table' | 'collection';
  /** Databases the backup counted that a test restore leaves out (MariaDB: the system schemas). */
  ignoreDatabases?: readonly string[];
  /** Said after the counts (MongoDB: checked without a server). */
  note?: string;
  /**
   * Restores (or reads) the backup and pushes what came back onto `stats`; resolves to the bytes read. `server` is the
   * verification server (settings.verifyServer), undefined for an engine verified without one. Drops what it created.
   */
  run(backup: VerifyBackup, server: TargetServer | undefined, io: VerifyIo, stats: DatabaseStats[]): Promise<number>;
}

export interface EngineDefinition {
  /** The dbengine value in containers.data->'Info', as the web UI writes it. */
  name: string;
  /** Its key in Config (credentials, compression) and in its settings' names (BACKUP_{KEY}_…, upper-cased). */
  key: string;
  /** Other spellings accepted (case-insensitive). */
  aliases: string[];
  /** The programs `check` looks for on PATH. */
  tools: string[];
  settings: EngineSettings;
  urls: EngineUrls;
  /**
   * A dump per database: the backup first asks the source server for its databases (TargetServer.databases, over
   * `server`, in-process: no client program to start), and dumpSteps gets them. Engines that dump everything in one
   * go (one step) leave it out and get none.
   */
  dumpsPerDatabase?: boolean;
  dumpSteps(source: DumpSource, databases: readonly ServerDatabase[]): DumpStep[];
  /** Are these objects of one backup (names as listed in S3) this engine's? (A backup whose container is gone.) */
  ownsObjects(objectNames: readonly string[]): boolean;
  /** Objects of one backup → the commands that load them into `to`, in order. */
  restoreSteps(objectNames: string[], to: RestoreTarget, source?: RestoreSource): RestoreStep[];
  /** How restore/ reaches a target server of this engine; none: no client here (nothing can be asked first). */
  server?: ServerProtocol;
  /** Plans a restore: asks the target (`server`, undefined without a ServerProtocol), refuses what it must. */
  planRestore(req: EngineRestoreRequest, server: TargetServer | undefined): Promise<RestorePlan>;
  verification: EngineVerification;
}
