/** A throwaway MariaDB server on 127.0.0.1 (mariadb-install-db + mariadbd, run as `mysql` when we are root). */
import { dirname, join } from 'node:path';
import { freePort, LOOPBACK } from './ports.js';
import { findBinary, ownedDir, runAs, runTool, spawnServer, type Account, type ServerProcess } from './proc.js';
import { GiveUp, waitUntil, withLogTails } from './wait.js';

const SBIN = ['/usr/sbin', '/usr/local/sbin'];
const READY_TIMEOUT_MS = 30_000;

export interface MariaInfo {
  host: string;
  port: number;
  /** unix socket; root over it needs the password too (once the server is set up). */
  socket: string;
  rootPassword: string;
  dataDir: string;
  logFile: string;
}

/** One result row: columns as text, SQL NULL as null. */
export type MariaRow = (string | null)[];

export interface MariaHandle extends MariaInfo {
  /** Runs SQL (several statements allowed, DELIMITER too) as root over TCP; rows of the last result sets. */
  query(sql: string, db?: string): Promise<MariaRow[]>;
}

export interface MariaServer extends MariaHandle {
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface StartMariadbOptions {
  baseDir: string;
  rootPassword: string;
  name?: string;
  port?: number;
}

export function mariaInfo(m: MariaInfo): MariaInfo {
  const { host, port, socket, rootPassword, dataDir, logFile } = m;
  return { host, port, socket, rootPassword, dataDir, logFile };
}

/** Quotes a string as a MariaDB SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function mariaHandle(info: MariaInfo): MariaHandle {
  const handle = mariaInfo(info);
  const connection = ['--protocol=TCP', '-h', handle.host, '-P', String(handle.port), '-u', 'root'];
  return {
    ...handle,
    query: (sql, db) => mariaClient(connection, sql, db, handle.rootPassword),
  };
}

/** The mariadb CLI in batch mode; SQL on stdin and the password in MYSQL_PWD so neither shows in `ps`. */
async function mariaClient(connection: string[], sql: string, db?: string, password?: string): Promise<MariaRow[]> {
  const args = ['--no-defaults', ...connection, '--batch', '--skip-column-names', '--default-character-set=utf8mb4'];
  const env: Record<string, string> = password === undefined ? {} : { MYSQL_PWD: password };
  const out = await runTool('mariadb', db ? [...args, '-D', db] : args, { env, input: sql });
  return parseBatch(out);
}

/** --batch output: rows by line, cells by tab, with \n \t \\ \0 escaped and NULL for SQL NULL. */
function parseBatch(out: string): MariaRow[] {
  const unescapes: Record<string, string> = { n: '\n', t: '\t', '0': '\0', '\\': '\\' };
  const unescape = (cell: string) => (cell === 'NULL' ? null : cell.replace(/\\(.)/g, (_, c: string) => unescapes[c] ?? c));
  return out.split('\n').slice(0, -1).map((line) => line.split('\t').map(unescape));
}

export async function startMariadb(opts: StartMariadbOptions): Promise<MariaServer> {
  const owner = runAs('mysql');
  const dir = await ownedDir(join(opts.baseDir, opts.name ?? 'mariadb'), owner);
  const info: MariaInfo = {
    host: LOOPBACK,
    port: opts.port ?? (await freePort()),
    socket: join(dir, 'mysqld.sock'),
    rootPassword: opts.rootPassword,
    dataDir: join(dir, 'data'),
    logFile: join(dir, 'mariadb.log'),
  };
  const consoleLog = join(dir, 'console.log');
  const handle = mariaHandle(info);
  let server: ServerProcess | undefined;

  const launch = async (): Promise<void> => {
    server = spawnServer(findBinary('mariadbd', SBIN), serverArgs(info, owner), { as: owner, logFile: consoleLog });
    const running = server;
    await waitUntil(() => ping(info, running), READY_TIMEOUT_MS, `mariadbd to answer on ${info.socket}`);
  };
  const verifyTcpLogin = async () => void (await handle.query('SELECT 1'));

  await withLogTails([info.logFile, consoleLog], async () => {
    await installDb(info, dir, owner);
    await launch();
    await setRootPassword(info);
    await verifyTcpLogin();
  });
  return {
    ...handle,
    stop: async () => server?.stop('SIGTERM'),
    start: () => withLogTails([info.logFile, consoleLog], () => launch().then(verifyTcpLogin)),
  };
}

async function installDb(info: MariaInfo, dir: string, owner: Account | undefined): Promise<void> {
  const args = ['--no-defaults', '--auth-root-authentication-method=normal', `--datadir=${info.dataDir}`, '--skip-test-db'];
  // Its bootstrap server puts temp files in $TMPDIR, which the mysql user may not be able to write.
  const env = { TMPDIR: dir };
  await runTool(findBinary('mariadb-install-db', SBIN), owner ? [...args, '--user=mysql'] : args, { cwd: dir, env });
}

function serverArgs(info: MariaInfo, owner: Account | undefined): string[] {
  return [
    '--no-defaults', // must come first
    `--datadir=${info.dataDir}`,
    ...(owner ? ['--user=mysql'] : []),
    `--bind-address=${LOOPBACK}`,
    `--port=${info.port}`,
    `--socket=${info.socket}`,
    `--pid-file=${join(info.dataDir, 'mariadbd.pid')}`,
    `--log-error=${info.logFile}`,
    `--tmpdir=${dirname(info.dataDir)}`,
    '--skip-name-resolve', // else 127.0.0.1 clients are matched as @localhost
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=16M',
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-doublewrite=0',
  ];
}

/** mariadb-admin ping exits 0 as soon as the server answers, even when the login is refused. */
async function ping(info: MariaInfo, server: ServerProcess): Promise<boolean> {
  if (!server.running()) throw new GiveUp('mariadbd exited');
  await runTool('mariadb-admin', ['--no-defaults', '-S', info.socket, '-u', 'root', '--connect-timeout=2', 'ping']);
  return true;
}

/** Fresh install: root has no password; give every root account one, so TCP logins from 127.0.0.1 work. */
async function setRootPassword(info: MariaInfo): Promise<void> {
  const pw = sqlString(info.rootPassword);
  const sql = `
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY ${pw};
    ALTER USER IF EXISTS 'root'@'::1' IDENTIFIED BY ${pw};
    ALTER USER 'root'@'localhost' IDENTIFIED BY ${pw};
    FLUSH PRIVILEGES;`;
  await mariaClient(['-S', info.socket, '-u', 'root'], sql);
}
