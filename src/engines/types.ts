// What an engine is: pure builders of commands and S3 object names. Engines spawn nothing and touch no network;
// the pipeline (src/pipeline/) runs what they describe.
import type { Compression } from '../config.js';
import type { Container } from '../admin-db/container-info.js';

export type EngineKey = 'postgres' | 'mariadb' | 'mongodb';

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
 * How a backup counts the rows it writes, so a verification can compare them after a test restore:
 * - pg-snapshot: exact counts in the dump's own snapshot (exported by a connection, imported by pg_dump --snapshot);
 * - mariadb-sql: the INSERT tuples in the dump stream (InnoDB cannot share a snapshot);
 * - mongo-archive: the documents in the archive stream (gzip: mongodump --gzip compressed the blocks inside it).
 */
export type RowCounting =
  | { kind: 'pg-snapshot'; conn: ServerConnection; database: string; snapshotArgs: (snapshot: string) => string[] }
  | { kind: 'mariadb-sql' }
  | { kind: 'mongo-archive'; gzip: boolean };

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

export interface Engine {
  /** The dbengine value in containers.data->'Info', as the web UI writes it. */
  name: 'Postgres' | 'MariaDB' | 'MongoDB';
  /** Which credentials and compression setting of Config apply. */
  configKey: EngineKey;
  /** Other spellings accepted (case-insensitive). */
  aliases: string[];
  /** The programs `check` looks for on PATH. */
  tools: string[];
  /** A command whose stdout lists what to dump (parsed by dumpSteps); engines that dump everything in one go omit it. */
  inventory?(source: DumpSource): Command;
  dumpSteps(source: DumpSource, inventoryOutput: string): DumpStep[];
  /** Objects of one backup (names as listed in S3) → the commands that load them into `to`, in order. */
  restoreSteps(objectNames: string[], to: RestoreTarget, source?: RestoreSource): RestoreStep[];
}
