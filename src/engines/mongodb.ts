// MongoDB: the whole server as one mongodump archive, `archive` (+ .gz / .zst).
//
// Compression: with --archive, `mongodump --gzip` gzips the whole archive (mongo-tools getArchiveOut), so
// `archive.gz` is a plain gzip file. The pipeline adds nothing on top of it; restore hands it to
// `mongorestore --gzip`. zstd, which mongodump lacks, is a stream compression by the pipeline (`archive.zst`), undone
// by the pipeline before mongorestore.
//
// Consistency: without --oplog (replica sets only; these servers are standalone) a dump of a busy server is not a
// point-in-time snapshot; each collection is read consistently on its own.
import type { Compression } from '../config.js';
import type { Command, DumpStep, Engine, RestoreStep, RestoreTarget, DumpSource } from './types.js';
import { compressionOf } from './names.js';

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

export const mongodb: Engine = {
  name: 'MongoDB',
  configKey: 'mongodb',
  aliases: ['mongo'],
  tools: ['mongodump', 'mongorestore'],

  dumpSteps(t: DumpSource): DumpStep[] {
    const gzip = t.compression === 'gzip';
    return [
      {
        command: command('mongodump', t, gzip ? ['--archive', '--gzip'] : ['--archive']),
        objectName: gzip ? 'archive.gz' : t.compression === 'zstd' ? 'archive.zst' : 'archive',
        // mongodump's own gzip is already applied: the pipeline adds nothing on top of it.
        compression: gzip ? 'none' : t.compression,
        rowCounting: { kind: 'mongo-archive', gzip },
      },
    ];
  },

  restoreSteps(objectNames: string[], to: RestoreTarget): RestoreStep[] {
    return archiveObjects(objectNames).map(({ objectName, gzip, compression }) => ({
      objectName,
      compression,
      // --drop: collections are replaced, not merged into; --stopOnError: the first failed write fails it all.
      command: command('mongorestore', to, ['--archive', ...(gzip ? ['--gzip'] : []), '--drop', '--stopOnError']),
    }));
  },
};
