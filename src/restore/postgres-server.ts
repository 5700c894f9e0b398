// What restore and verify ask a PostgreSQL target: its roles, whether a database exists and holds tables; and what
// they do to it: create and drop (scratch) databases, count tables and rows. What a backup asks its source first:
// the databases to dump. Short-lived pg connections.
import { countPgTables, USER_TABLES } from '../counts/postgres.js';
import type { QueryConfig } from 'pg';
import { withPg } from '../db/pg.js';
import type { DatabaseStats, ServerConnection, ServerDatabase, TableCount, TargetServer } from '../engines/types.js';

/** A PostgreSQL target as engines see it; questions about the server go through `maintenanceDb`. */
export function postgresServer(conn: ServerConnection, { maintenanceDb = 'postgres' }: { maintenanceDb?: string }): TargetServer {
  return {
    conn,
    ping: async () => {
      await pgRoles(conn, maintenanceDb);
    },
    databases: () => pgDatabases(conn, maintenanceDb),
    roles: () => pgRoles(conn, maintenanceDb),
    databaseState: (database) => pgDatabaseState(conn, database, maintenanceDb),
    createDatabase: (database) => pgCreateDatabase(conn, database, maintenanceDb),
    dropDatabase: (database) => pgDropDatabase(conn, database, maintenanceDb),
    dropRole: (role) => pgDropRole(conn, role, maintenanceDb),
    databaseStats: (database, label) => pgDatabaseStats(conn, database, label),
  };
}

/** The server's system identifier (one per cluster, whatever it is called), or undefined when it will not say. */
export async function pgSystemIdentifier(conn: ServerConnection, database = 'postgres'): Promise<string | undefined> {
  return withPg(conn, database, async (c) => (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id).catch(
    () => undefined,
  );
}

/** A server answers in well under this; one that accepts the connection and then hangs must not hold the run. */
const LISTING_TIMEOUT_MS = 120_000;

/**
 * The databases a backup dumps: those that accept connections, templates and the maintenance database left out,
 * by their exact names (any character a name can hold), with their sizes (to plan the upload's part size).
 */
export async function pgDatabases(conn: ServerConnection, maintenanceDb = 'postgres'): Promise<ServerDatabase[]> {
  // Named as the backup, not as a restore, in pg_stat_activity.
  return withPg(
    conn,
    maintenanceDb,
    async (client) => {
      const { rows } = await client.query<{ name: string; size: string }>({
        text: `SELECT datname AS name, pg_database_size(oid)::text AS size FROM pg_database
          WHERE datallowconn AND NOT datistemplate AND datname <> $1 ORDER BY datname`,
        values: [maintenanceDb],
        query_timeout: LISTING_TIMEOUT_MS,
      } as QueryConfig<string[]> & { query_timeout: number }); // pg reads it per query; its types only know the client's
      return rows.map((r) => ({ name: r.name, size: Number(r.size) }));
    },
    'mydb-backup',
  );
}

export async function pgRoles(conn: ServerConnection, maintenanceDb = 'postgres'): Promise<string[]> {
  return withPg(conn, maintenanceDb, async (c) => (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
}

/** Does the database exist, and how many user tables does it hold (0 when it does not exist)? */
export async function pgDatabaseState(conn: ServerConnection, database: string, maintenanceDb = 'postgres'): Promise<{ exists: boolean; tables: number }> {
  const exists = await withPg(conn, maintenanceDb, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rows.length > 0);
  if (!exists) return { exists, tables: 0 };
  const tables = await withPg(conn, database, async (c) => (await c.query(USER_TABLES)).rows.length);
  return { exists, tables };
}

export async function pgCreateDatabase(conn: ServerConnection, database: string, maintenanceDb = 'postgres'): Promise<void> {
  await withPg(conn, maintenanceDb, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)} TEMPLATE template0`));
}

export async function pgDropDatabase(conn: ServerConnection, database: string, maintenanceDb = 'postgres'): Promise<void> {
  await withPg(conn, maintenanceDb, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`));
}

/** Drops a role (one a failed restore created); it owns nothing: the restore's databases are gone or rolled back. */
export async function pgDropRole(conn: ServerConnection, role: string, maintenanceDb = 'postgres'): Promise<void> {
  await withPg(conn, maintenanceDb, (c) => c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`));
}

/** Every user table with its exact row count, and the large objects: what a verification reports. */
export async function pgDatabaseStats(conn: ServerConnection, database: string, label = database): Promise<DatabaseStats> {
  return withPg(conn, database, async (c) => {
    const tables: TableCount[] = Object.entries(await countPgTables(c)).map(([table, rows]) => ({ table, rows }));
    const lo = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata');
    return { database: label, tables, rows: tables.reduce((n, t) => n + t.rows, 0), largeObjects: Number(lo.rows[0]?.n ?? 0) };
  });
}
