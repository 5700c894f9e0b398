/** A throwaway PostgreSQL cluster on 127.0.0.1 (initdb + pg_ctl, run as `postgres` when we are root). */
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { onEmergencyExit } from './cleanup.js';
import { freePort, LOOPBACK } from './ports.js';
import { ownedDir, runAs, runTool, type Account } from './proc.js';
import { waitUntil, withLogTails } from './wait.js';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** initdb's bootstrap superuser; reachable without password over the unix socket only. */
const BOOTSTRAP_USER = 'postgres';
const READY_TIMEOUT_MS = 20_000;

/** Everything needed to reach a server: JSON-serialisable (vitest provide/inject). */
export interface PgInfo {
  host: string;
  port: number;
  socketDir: string;
  adminUser: string;
  adminPassword: string;
  dataDir: string;
  logFile: string;
}

export interface PgHandle extends PgInfo {
  /** postgresql://adminUser:adminPassword@127.0.0.1:port/db (user, password and db URL-encoded). */
  url(db: string): string;
  /** One query as the admin user over TCP (fresh connection each time). */
  query<R extends object = Record<string, any>>(db: string, sql: string, params?: unknown[]): Promise<R[]>;
}

export interface PgServer extends PgHandle {
  /** Fast shutdown (pg_ctl stop -m fast); no-op when not running. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it accepts TCP logins. */
  start(): Promise<void>;
}

export interface StartPostgresOptions {
  baseDir: string;
  name: string;
  adminUser?: string;
  adminPassword: string;
  port?: number;
}

/** The serialisable part of a handle or server. */
export function pgInfo(p: PgInfo): PgInfo {
  const { host, port, socketDir, adminUser, adminPassword, dataDir, logFile } = p;
  return { host, port, socketDir, adminUser, adminPassword, dataDir, logFile };
}

export function pgUrl(info: PgInfo, db: string): string {
  const e = encodeURIComponent;
  return `postgresql://${e(info.adminUser)}:${e(info.adminPassword)}@${info.host}:${info.port}/${e(db)}`;
}

/** Runs `fn` with a connected client (config: a URL or a pg ClientConfig), always closing it. */
export async function withPgClient<T>(config: string | pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config } : config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** url()/query() over the info: usable in any process (e.g. rebuilt from vitest's inject). */
export function pgHandle(info: PgInfo): PgHandle {
  const handle = pgInfo(info);
  return {
    ...handle,
    url: (db) => pgUrl(handle, db),
    query: (db, sql, params) => withPgClient(pgUrl(handle, db), async (c) => (await c.query(sql, params)).rows),
  };
}

export async function startPostgres(opts: StartPostgresOptions): Promise<PgServer> {
  const owner = runAs('postgres');
  const dir = await ownedDir(join(opts.baseDir, opts.name), owner);
  const info: PgInfo = {
    host: LOOPBACK,
    port: opts.port ?? (await freePort()),
    socketDir: dir,
    adminUser: opts.adminUser ?? 'pgdba',
    adminPassword: opts.adminPassword,
    dataDir: join(dir, 'data'),
    logFile: join(dir, 'postgres.log'),
  };
  const handle = pgHandle(info);
  const ctl = pgCtl(info, owner);
  await withLogTails([info.logFile], async () => {
    await initCluster(info, owner);
    await ctl.start();
    await createAdminRole(info);
    await waitForTcpLogin(handle, opts.name);
  });
  return {
    ...handle,
    stop: ctl.stop,
    start: () => withLogTails([info.logFile], () => ctl.start().then(() => waitForTcpLogin(handle, opts.name))),
  };
}

async function initCluster(info: PgInfo, owner: Account | undefined): Promise<void> {
  const initdb = join(PG_BIN, 'initdb');
  const args = ['-D', info.dataDir, '-U', BOOTSTRAP_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
  await runTool(initdb, args, { as: owner, cwd: info.socketDir });
  await writeFile(
    join(info.dataDir, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n',
  );
  const settings: Record<string, string | number> = {
    listen_addresses: `'${LOOPBACK}'`,
    port: info.port,
    unix_socket_directories: `'${info.socketDir}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: '32MB',
    max_connections: 100,
    password_encryption: 'scram-sha-256',
    timezone: `'UTC'`,
    log_timezone: `'UTC'`,
  };
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
  await appendFile(join(info.dataDir, 'postgresql.conf'), `\n# test rig\n${conf.join('\n')}\n`);
}

/** pg_ctl start/stop; works from any process that knows the data dir. */
function pgCtl(info: PgInfo, owner: Account | undefined) {
  const pgCtlBin = join(PG_BIN, 'pg_ctl');
  const run = (args: string[]) => runTool(pgCtlBin, ['-D', info.dataDir, ...args], { as: owner, cwd: info.socketDir });
  let forget = (): void => {};
  return {
    async start(): Promise<void> {
      forget();
      forget = onEmergencyExit(() => killPostmaster(info.dataDir));
      await run(['start', '-w', '-t', '30', '-s', '-l', info.logFile]);
    },
    async stop(): Promise<void> {
      if (postmasterPid(info.dataDir) !== undefined) await run(['stop', '-m', 'fast', '-w', '-t', '30', '-s']);
      forget();
    },
  };
}

function postmasterPid(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

/** Emergency stop, synchronous and instant: SIGKILL the postmaster's process group (backends included). */
function killPostmaster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    process.kill(pid, 'SIGKILL');
  }
}

/** Creates (or, for 'postgres', updates) the admin role over the unix socket, where trust applies. */
async function createAdminRole(info: PgInfo): Promise<void> {
  const socket = { host: info.socketDir, port: info.port, user: BOOTSTRAP_USER, database: 'postgres' };
  await withPgClient(socket, async (c) => {
    const role = c.escapeIdentifier(info.adminUser);
    const password = c.escapeLiteral(info.adminPassword);
    const verb = info.adminUser === BOOTSTRAP_USER ? 'ALTER' : 'CREATE';
    await c.query(`${verb} ROLE ${role} LOGIN SUPERUSER PASSWORD ${password}`);
  });
}

async function waitForTcpLogin(handle: PgHandle, name: string): Promise<void> {
  const probe = async () => (await handle.query('postgres', 'SELECT 1'), true);
  await waitUntil(probe, READY_TIMEOUT_MS, `PostgreSQL '${name}' to accept TCP logins on port ${handle.port}`);
}
