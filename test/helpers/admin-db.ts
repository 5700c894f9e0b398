/** Fresh admin databases (one per test file) seeded with containers. */
import { readFile } from 'node:fs/promises';
import type { Client } from 'pg';
import { withPgClient } from '../rig/postgres.js';

/** Anything that can give a URL for a database on a server where its user may CREATE DATABASE. */
export interface AdminServer {
  url(db: string): string;
}

export interface SeedContainer {
  name: string;
  engine: 'Postgres' | 'MariaDB' | 'MongoDB' | (string & {});
  /** null: no Port key at all. */
  port: number | string | null;
  /** undefined: 'Daily'; null: no frequency key at all (a migrated row). */
  freq?: string | null;
  /** Where the frequency is stored; 'labels' puts it in Info.labels.backup_freq. Default 'backup_freq'. */
  freqKey?: 'backup_freq' | 'BACKUP_FREQ' | 'labels';
  /** container_state.state; default 'running'; null: no container_state row (container deleted). */
  state?: string | null;
  /** Merged over the generated Info keys. */
  extraInfo?: Record<string, unknown>;
  /** Replaces `data` entirely (any JSON value), for malformed-row tests. */
  rawData?: unknown;
}

const SCHEMA_FILE = new URL('../fixtures/admin-schema.sql', import.meta.url);

const PASSWORD_ENV: Record<string, string> = {
  Postgres: 'POSTGRES_PASSWORD',
  MariaDB: 'MARIADB_ROOT_PASSWORD',
  MongoDB: 'MONGO_INITDB_ROOT_PASSWORD',
};

/** The (fake) password stored in a container's env: tests assert it never shows up in logs, mails, rows. */
export function containerSecret(name: string): string {
  return `s3cr3t-of-${name}-MUST-NOT-LEAK`;
}

/** The containers.data document of a seeded container. */
export function containerData(c: SeedContainer): unknown {
  if ('rawData' in c) return c.rawData;
  const info: Record<string, unknown> = {
    Name: c.name,
    dbengine: c.engine,
    ...(c.port === null ? {} : { Port: c.port }),
    env: { [PASSWORD_ENV[c.engine] ?? 'PASSWORD']: containerSecret(c.name), TZ: 'UTC' },
    dbname: c.name,
    dbuser: `${c.name}_user`,
    owner: 'alice@example.test',
    contact: 'dba-team@example.test',
    labels: { team: 'test' },
  };
  const freq = c.freq === undefined ? 'Daily' : c.freq;
  if (freq !== null) {
    if (c.freqKey === 'labels') info.labels = { team: 'test', backup_freq: freq };
    else info[c.freqKey ?? 'backup_freq'] = freq;
  }
  return { Info: { ...info, ...c.extraInfo } };
}

let dbCounter = 0;
/** A database name unique to this process and call, e.g. adminDbName('audit') → 'admin_audit_4242_1'. */
export function adminDbName(hint: string): string {
  return `admin_${hint.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}_${process.pid}_${++dbCounter}`;
}

/** (Re)creates `dbName` on the server, applies the admin schema, inserts the containers; returns the DB's URL. */
export async function createAdminDb(server: AdminServer, dbName: string, containers: SeedContainer[]): Promise<string> {
  await withPgClient(server.url('postgres'), async (c) => {
    const db = c.escapeIdentifier(dbName);
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${db}`);
  });
  const url = server.url(dbName);
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  await withPgClient(url, async (c) => {
    await c.query(schema);
    for (const container of containers) await insertContainer(c, container);
  });
  return url;
}

async function insertContainer(c: Client, container: SeedContainer): Promise<void> {
  const { rows } = await c.query<{ id: number }>(
    'INSERT INTO containers (name, data) VALUES ($1, $2::jsonb) RETURNING id',
    [container.name, JSON.stringify(containerData(container))],
  );
  const state = container.state === undefined ? 'running' : container.state;
  if (state === null) return;
  await c.query(
    `INSERT INTO container_state (id, c_id, name, state, last_state, observerd, changed_by)
     VALUES ($1, $1, $2, $3, 'created', 'observer', 'test-seed')`,
    [rows[0]!.id, container.name, state],
  );
}

/** A backups row as the tests read it back. */
export interface BackupsRow {
  id: number;
  c_id: number | null;
  name: string;
  state: string;
  backup_id: string;
  backup_type: string;
  url: string;
  command: string;
  err_msg: string;
  ts: Date;
}

/** Every backups row of an admin DB, in insertion order. */
export async function backupsRows(adminUrl: string): Promise<BackupsRow[]> {
  return withPgClient(adminUrl, async (c) => (await c.query<BackupsRow>('SELECT * FROM backups ORDER BY id')).rows);
}
