// MongoDB: the whole server as one mongodump archive, `archive` (+ .gz / .zst).
//
// Compression: with --archive, `mongodump --gzip` gzips the whole archive (mongo-tools getArchiveOut), so
// `archive.gz` is a plain gzip file. The pipeline adds nothing on top of it; restore hands it to
// `mongorestore --gzip`. zstd, which mongodump lacks, is a stream compression by the pipeline (`archive.zst`), undone
// by the pipeline before mongorestore.
//
// Consistency: without --oplog (replica sets only; these servers are standalone) a dump of a busy server is not a
// point-in-time snapshot; each collection is read consistently on its own.
import { MongoArchiveCounter } from '../counts/mongo-archive.js';
import { ConfigError } from '../errors.js';
import type { Command, DatabaseStats, DumpStep, EngineRestoreRequest, RestorePlan, RestoreStep, RestoreTarget, DumpSource, VerifyBackup, VerifyIo } from './types.js';
import { compressionOf, type Compression } from './compression.js';
import { defineEngine } from './define.js';

/** The password as mongodump's --config YAML: a double-quoted scalar (JSON's escapes are valid YAML). */
export function mongoConfigFile(password: string): string {
  return `password: ${JSON.stringify(password)}\n`;
}

/**
 * How the tools reach the server: host, port and user in argv, the password in a 0600 `--config` file (never
 * --password, which `ps` shows). Without a password: no authentication at all (a --username alone would make the
 * tool prompt on a terminal it does not have).
 */
function connection(t: { host: string; port: number; user: string; password?: string }): Pick<Command, 'configFile'> & {
  args: string[];
} {
  const args = [`--host=${t.host}`, `--port=${t.port}`];
  if (t.password === undefined) return { args };
  return {
    args: [...args, `--username=${t.user}`, '--authenticationDatabase=admin'],
    configFile: { content: mongoConfigFile(t.password), args: (path) => [`--config=${path}`] },
  };
}

function command(program: string, t: { host: string; port: number; user: string; password?: string }, options: string[]): Command {
  const { args, configFile } = connection(t);
  return { argv: [program, ...options, ...args], ...(configFile ? { configFile } : {}) };
}

const ARCHIVE = /(^|\/)archive(\.gz|\.zst)?$/;

/** An archive object of a backup, and how it is read back. */
export interface ArchiveObject {
  objectName: string;
  /** Gzipped by mongodump itself (--gzip): mongorestore --gzip, or the archive parser, undoes it. */
  gzip: boolean;
  /** What the pipeline decompresses (zstd); 'none' for gzip, which is mongodump's own. */
  compression: Compression;
}

/** The archives among a backup's objects (restore and verify read the same ones the same way). */
export function archiveObjects(objectNames: readonly string[]): ArchiveObject[] {
  return objectNames
    .filter((n) => ARCHIVE.test(n))
    .map((objectName) => {
      const gzip = objectName.endsWith('.gz');
      return { objectName, gzip, compression: gzip ? 'none' : compressionOf(objectName) };
    });
}

export const mongodb = defineEngine({
  name: 'MongoDB',
  key: 'mongodb',
  aliases: ['mongo'],
  tools: ['mongodump', 'mongorestore'],
  settings: { defaultUser: 'dbaas', defaultCompression: 'zstd', verifyServer: false },
  urls: { schemes: ['mongodb'], defaultPort: 27017, pathIsDatabase: false },

  dumpSteps(t: DumpSource): DumpStep[] {
    const gzip = t.compression === 'gzip';
    return [
      {
        command: command('mongodump', t, gzip ? ['--archive', '--gzip'] : ['--archive']),
        objectName: gzip ? 'archive.gz' : t.compression === 'zstd' ? 'archive.zst' : 'archive',
        // mongodump's own gzip is already applied: the pipeline adds nothing on top of it.
        compression: gzip ? 'none' : t.compression,
        // The documents in the archive stream (gzip: mongodump --gzip compressed the blocks inside it). The parser
        // checks what mongorestore checks: an archive it rejects would not restore. (Should the parser ever be wrong
        // about a real archive, BACKUP_ROW_COUNTS=false turns the check off.)
        rowCounting: {
          kind: 'stream',
          counter: () => new MongoArchiveCounter(gzip),
          invalidDump: 'the archive mongodump wrote is not valid (mongorestore would refuse it)',
        },
      },
    ];
  },

  restoreSteps(objectNames: string[], to: RestoreTarget): RestoreStep[] {
    return archiveObjects(objectNames).map(({ objectName, gzip, compression }) => ({
      objectName,
      compression,
      // --drop: collections are replaced, not merged into; --stopOnError: the first failed write fails it all.
      command: command('mongorestore', to, ['--archive', ...(gzip ? ['--gzip'] : []), '--drop', '--stopOnError']),
      truncationCheck: 'mongorestore reads the archive to its terminator and fails on one cut short',
    }));
  },

  ownsObjects: (objectNames) => archiveObjects(objectNames).length > 0,
  planRestore: planMongodb,
  verification: { unit: 'collection', note: 'the archive checked whole (format, CRCs) without a server', run: verifyMongodbArchive },
});

/** mongorestore --drop replaces the collections the archive holds. No client here to look first: --force. */
async function planMongodb(req: EngineRestoreRequest): Promise<RestorePlan> {
  if (req.database !== undefined) throw new ConfigError('--database is not supported for MongoDB backups yet: the archive is restored whole');
  if (!req.force) {
    throw new ConfigError(
      `cannot check whether ${req.target} is empty (no MongoDB client here); mongorestore --drop replaces the collections the archive holds: pass --force to go ahead`,
    );
  }
  const steps = mongodb.restoreSteps(req.objectNames, { ...req.conn });
  if (steps.length === 0) throw new ConfigError(`${req.backup} holds no MongoDB archive (objects: ${req.objectNames.join(', ')})`);
  return { steps, databases: [], prepare: async () => {}, undo: async () => [], notes: [] };
}

/**
 * No scratch server. Each archive is read whole from S3 and checked as mongorestore would read it (format, every
 * namespace's CRC, its end), and its documents counted per collection.
 */
async function verifyMongodbArchive(backup: VerifyBackup, _server: unknown, io: VerifyIo, stats: DatabaseStats[]): Promise<number> {
  const archives = archiveObjects(backup.objectNames);
  if (archives.length === 0) throw new Error(`${backup.backup} holds no MongoDB archive (objects: ${backup.objectNames.join(', ') || 'none'})`);
  let bytes = 0;
  for (const { objectName, gzip, compression } of archives) {
    const read = await io.readThrough(objectName, { compression }, new MongoArchiveCounter(gzip));
    bytes += read.bytes;
    for (const [database, collections] of Object.entries(read.counts ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const tables = Object.entries(collections).map(([table, rows]) => ({ table, rows }));
      stats.push({ database, tables, rows: tables.reduce((n, t) => n + t.rows, 0), largeObjects: 0 });
    }
  }
  return bytes;
}
