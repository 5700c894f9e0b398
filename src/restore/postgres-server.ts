// What restore and verify ask a PostgreSQL target: its roles, whether a database exists and holds tables; and what
// they do to it: create and drop (scratch) databases, count tables and rows. Short-lived pg connections.
import pg from 'pg';
import type { ServerConnection } from './target.js';

export interface TableCount {
  /** schema.table */
  table: string;
  rows: number;
}

export interface DatabaseStats {
  database: string;
  tables: TableCount[];
  rows: number;
  largeObjects: number;
}

function clientConfig(conn: ServerConnection, database: string): pg.ClientConfig {
  const sslmode = conn.extraEnv?.PGSSLMODE;
  const ssl = sslmode && ['require', 'verify-ca', 'verify-full'].includes(sslmode) ? { rejectUnauthorized: sslmode !== 'require' } : undefined;
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    ...(conn.password ? { password: conn.password } : {}),
    database,
    ...(ssl ? { ssl } : {}),
    connectionTimeoutMillis: 15_000,
    application_name: 'mydb-backup restore',
  };
}

export async function withPg<T>(conn: ServerConnection, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(conn, database));
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const USER_TABLES = `SELECT format('%I.%I', n.nspname, c.relname) AS t
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
   ORDER BY 1`;

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

/** Every user table with its exact row count, and the large objects: what a verification reports. */
export async function pgDatabaseStats(conn: ServerConnection, database: string, label = database): Promise<DatabaseStats> {
  return withPg(conn, database, async (c) => {
    const tables: TableCount[] = [];
    // Plain tables (partitions included, partitioned parents not), each counted ONLY itself: no row counted twice.
    for (const { t } of (await c.query<{ t: string }>(USER_TABLES.replace("IN ('r', 'p')", "= 'r'"))).rows) {
      const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${t}`);
      tables.push({ table: t, rows: Number(rows[0]?.n ?? 0) });
    }
    const lo = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata');
    return { database: label, tables, rows: tables.reduce((n, t) => n + t.rows, 0), largeObjects: Number(lo.rows[0]?.n ?? 0) };
  });
}
