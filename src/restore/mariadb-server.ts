// What restore and verify ask a MariaDB target, through the mariadb client (no driver): its user databases and their
// tables; dropping (scratch) databases; counting rows. The password goes in a 0600 --defaults-file, never argv.
import type { Command, DatabaseStats, ServerConnection, TableCount, TargetServer } from '../engines/types.js';
import { mariadbCommand } from '../engines/mariadb.js';
import { MARIADB_SYSTEM_DATABASES } from '../engines/mariadb-filter.js';
import { captureCommand } from '../pipeline/command.js';
import type { Masker } from '../util/mask.js';

const TIMEOUT_MS = 10 * 60_000;

export const mariadbName = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const sqlString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const SYSTEM_LIST = MARIADB_SYSTEM_DATABASES.map(sqlString).join(', ');

function queryCommand(conn: ServerConnection, sql: string): Command {
  return mariadbCommand('mariadb', conn, ['--batch', '--skip-column-names', '--default-character-set=utf8mb4', '-e', sql]);
}

/** --batch output: rows by line, cells by tab, with \n \t \\ \0 escaped. */
function parseBatch(out: string): string[][] {
  const unescapes: Record<string, string> = { n: '\n', t: '\t', '0': '\0', '\\': '\\' };
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => line.split('\t').map((cell) => cell.replace(/\\(.)/g, (_, c: string) => unescapes[c] ?? c)));
}

/** A MariaDB target as engines see it. */
export function mariadbServer(conn: ServerConnection, { mask }: { mask: Masker }): TargetServer {
  const userDatabases = () => mariadbUserDatabases(conn, mask);
  return {
    conn,
    ping: async () => {
      await userDatabases();
    },
    userDatabases,
    dropDatabase: (database) => mariadbDropDatabase(conn, database, mask),
    databaseStats: (database, label) => mariadbDatabaseStats(conn, database, mask, label),
  };
}

async function query(conn: ServerConnection, sql: string, mask: Masker): Promise<string[][]> {
  return parseBatch(await captureCommand(queryCommand(conn, sql), { mask, timeoutMs: TIMEOUT_MS, what: `mariadb on ${conn.host}:${conn.port}` }));
}

/** The server's user databases (system schemas left out), each with its number of base tables. */
export async function mariadbUserDatabases(conn: ServerConnection, mask: Masker): Promise<Map<string, number>> {
  const rows = await query(
    conn,
    `SELECT s.SCHEMA_NAME, COUNT(t.TABLE_NAME) FROM information_schema.SCHEMATA s
       LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME AND t.TABLE_TYPE = 'BASE TABLE'
      WHERE s.SCHEMA_NAME NOT IN (${SYSTEM_LIST}) GROUP BY s.SCHEMA_NAME`,
    mask,
  );
  return new Map(rows.map(([name = '', tables = '0']) => [name, Number(tables)]));
}

export async function mariadbDropDatabase(conn: ServerConnection, database: string, mask: Masker): Promise<void> {
  await query(conn, `DROP DATABASE IF EXISTS ${mariadbName(database)}`, mask);
}

/** Every base table of the database with its exact row count. */
export async function mariadbDatabaseStats(conn: ServerConnection, database: string, mask: Masker, label = database): Promise<DatabaseStats> {
  const names = await query(
    conn,
    `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${sqlString(database)} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME`,
    mask,
  );
  const tables: TableCount[] = [];
  if (names.length) {
    const counts = await query(
      conn,
      names.map(([t = '']) => `SELECT ${sqlString(t)}, COUNT(*) FROM ${mariadbName(database)}.${mariadbName(t)}`).join(' UNION ALL '),
      mask,
    );
    for (const [table = '', rows = '0'] of counts) tables.push({ table, rows: Number(rows) });
  }
  return { database: label, tables, rows: tables.reduce((n, t) => n + t.rows, 0), largeObjects: 0 };
}
