// Short-lived node-postgres connections to a database server (restore targets, verification servers, and the
// containers' servers for row counts), with the libpq sslmode of a URL honoured.
import pg from 'pg';
import type { ServerConnection } from '../engines/types.js';

export function pgClientConfig(conn: ServerConnection, database: string, applicationName = 'mydb-backup'): pg.ClientConfig {
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
    application_name: applicationName,
  };
}

export async function connectPg(conn: ServerConnection, database: string, applicationName?: string): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(conn, database, applicationName));
  // A dropped connection surfaces as the failed query; without a listener it would crash the process.
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function withPg<T>(conn: ServerConnection, database: string, fn: (c: pg.Client) => Promise<T>, applicationName = 'mydb-backup restore'): Promise<T> {
  const client = await connectPg(conn, database, applicationName);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
