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

/** How to reach one container's server with the engine's admin account. */
export interface Target {
  container: Container;
  host: string;
  port: number;
  user: string;
  password?: string;
  compression: Compression;
  /** The backup's id (`YYYY-MM-DD_HH:MM:SS`), for engines whose object names carry it (MariaDB). */
  backupId: string;
}

/** One object in S3, streamed from one command's stdout. */
export interface DumpStep {
  command: Command;
  /** File name under {prefix}/{Name}/{backup_id}/, compression suffix included. */
  objectName: string;
  compression: Compression;
  /** Expected size in bytes, when the server can tell (sizes the upload's parts). */
  sizeHint?: number;
}

/** One object read back from S3 into a command's stdin. */
export interface RestoreStep {
  objectName: string;
  /**
   * What the pipeline decompresses before the command's stdin. Usually what the name says, but not always: MongoDB's
   * `archive.gz` is compressed inside the archive format (mongodump --gzip), so it is 'none' and mongorestore --gzip.
   */
  compression: Compression;
  command: Command;
}

export interface RestoreTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Restore only this database (PostgreSQL: which .dump object; others: informative). */
  database?: string;
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
  inventory?(target: Target): Command;
  dumpSteps(target: Target, inventoryOutput: string): DumpStep[];
  /** Objects of one backup (names as listed in S3) → the commands that load them into `to`, in order. */
  restoreSteps(objectNames: string[], to: RestoreTarget): RestoreStep[];
}
