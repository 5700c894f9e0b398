// Where a restore goes: a URL (--to), an active container (--to-container) or a verification server. Pure parsing;
// the password never leaves the connection (labels and action_log rows show user@host:port/db only).
import type { Config } from '../config.js';
import type { EngineKey, ServerConnection } from '../engines/types.js';
import { ConfigError } from '../errors.js';

export type { ServerConnection };

export interface RestoreDestination {
  engine: EngineKey;
  conn: ServerConnection;
  /** The database the URL names (PostgreSQL, MariaDB): restore into it, under this name. */
  database?: string;
  /** For messages and action_log: `postgresql://user@host:port/db` or `container NAME (host:port)`, no password. */
  label: string;
}

const SCHEMES: Record<string, EngineKey> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mariadb: 'mariadb',
  mysql: 'mariadb',
  mongodb: 'mongodb',
};
const DEFAULT_PORT: Record<EngineKey, number> = { postgres: 5432, mariadb: 3306, mongodb: 27017 };
const CANONICAL_SCHEME: Record<EngineKey, string> = { postgres: 'postgresql', mariadb: 'mariadb', mongodb: 'mongodb' };

/**
 * `postgres[ql]://[user[:password]@]host[:port][/db][?sslmode=…]`, `mariadb://` (or `mysql://`), `mongodb://`. A
 * missing user or password is the engine's admin account from the configuration (BACKUP_*_USER / _PASSWORD), so no
 * password needs to be typed on a command line `ps` shows.
 */
export function parseTargetUrl(raw: string, credentials: Config['credentials']): RestoreDestination {
  const match = /^([a-z]+)(\+[a-z0-9_]+)?:\/\//i.exec(raw.trim());
  const engine = match?.[1] ? SCHEMES[match[1].toLowerCase()] : undefined;
  if (!match || !engine) {
    throw new ConfigError(`--to must be a postgresql://, mariadb:// (mysql://) or mongodb:// URL, not '${raw.replace(/:[^:@/]*@/, ':***@')}'`);
  }
  let url: URL;
  try {
    url = new URL(`${CANONICAL_SCHEME[engine]}://${raw.trim().slice(match[0].length)}`);
  } catch {
    throw new ConfigError('--to is not a valid URL');
  }
  const host = url.searchParams.get('host') ?? url.hostname;
  if (!host) throw new ConfigError('--to has no host');
  const port = url.port ? Number(url.port) : DEFAULT_PORT[engine];
  const user = url.username ? decodeURIComponent(url.username) : credentials[engine].user;
  const password = url.password ? decodeURIComponent(url.password) : credentials[engine].password;
  const path = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  const sslmode = url.searchParams.get('sslmode');
  const conn: ServerConnection = {
    host,
    port,
    user,
    ...(password ? { password } : {}),
    ...(engine === 'postgres' && sslmode ? { extraEnv: { PGSSLMODE: sslmode } } : {}),
  };
  const database = engine === 'mongodb' || path === '' ? undefined : path;
  const label = `${CANONICAL_SCHEME[engine]}://${encodeURIComponent(user)}@${host}:${port}/${database ? encodeURIComponent(database) : ''}`;
  return { engine, conn, ...(database !== undefined ? { database } : {}), label };
}

/** An active container as the target: the configured DB host, its Port, the engine's admin account. */
export function containerDestination(
  container: { name: string; port: number },
  engine: EngineKey,
  config: Pick<Config, 'dbHost' | 'credentials'>,
): RestoreDestination {
  const { user, password } = config.credentials[engine];
  return {
    engine,
    conn: { host: config.dbHost, port: container.port, user, ...(password ? { password } : {}) },
    label: `container ${container.name} (${config.dbHost}:${container.port})`,
  };
}

/** The verification server configured for an engine, with its maintenance database (PostgreSQL). */
export function verifyServer(config: Config, engine: EngineKey): (RestoreDestination & { maintenanceDb: string }) | undefined {
  const url = engine === 'postgres' ? config.verify.postgresUrl : engine === 'mariadb' ? config.verify.mariadbUrl : undefined;
  if (!url) return undefined;
  const parsed = parseTargetUrl(url, config.credentials);
  const { database, ...server } = parsed;
  return { ...server, maintenanceDb: database ?? 'postgres', label: parsed.label };
}
