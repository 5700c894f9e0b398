// MariaDB (and MySQL): the whole server in one consistent logical dump, `all-databases.sql` (+ .gz / .zst).
import type { Command, DumpStep, Engine, RestoreStep, RestoreTarget, DumpSource } from './types.js';
import { COMPRESSION_SUFFIX, compressionOf } from './names.js';

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

const DUMP_OBJECT = /\.sql(\.gz|\.zst)?$/;

export const mariadb: Engine = {
  name: 'MariaDB',
  configKey: 'mariadb',
  aliases: ['mysql'],
  tools: ['mariadb-dump', 'mariadb'],

  dumpSteps(t: DumpSource): DumpStep[] {
    return [
      {
        command: mariadbCommand('mariadb-dump', t, DUMP_OPTIONS),
        objectName: `all-databases.sql${COMPRESSION_SUFFIX[t.compression]}`,
        compression: t.compression,
        rowCounting: { kind: 'mariadb-sql' },
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
      }));
  },
};
