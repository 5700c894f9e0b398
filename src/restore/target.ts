// Where a restore goes: a URL (--to), an active container (--to-container) or a verification server. Pure parsing;
// the password never leaves the connection (labels and action_log rows show user@host:port/db only).
import type { Config } from '../config.js';
import { ENGINES, type Engine } from '../engines/index.js';
import type { ServerConnection } from '../engines/types.js';
import { DbUrlError, parseDbUrl, schemesPhrase, urlLabel } from '../engines/url.js';
import { ConfigError } from '../errors.js';
import { orList } from '../util/format.js';

export type { ServerConnection };

export interface RestoreDestination {
  engine: Engine;
  conn: ServerConnection;
  /** The database the URL names (PostgreSQL, MariaDB): restore into it, under this name. */
  database?: string;
  /** For messages and action_log: `postgresql://user@host:port/db` or `container NAME (host:port)`, no password. */
  label: string;
}

/**
 * A URL of one of the engines (`postgres[ql]://[user[:password]@]host[:port][/db][?sslmode=…]`, `mariadb://`,
 * `mysql://`, `mongodb://`: engines' EngineUrls). A missing user or password is the engine's admin account from the
 * configuration (BACKUP_*_USER / _PASSWORD), so no password needs to be typed on a command line `ps` shows.
 */
export function parseTargetUrl(raw: string, credentials: Config['credentials']): RestoreDestination {
  let url;
  try {
    url = parseDbUrl(raw, ENGINES);
  } catch (err) {
    if (!(err instanceof DbUrlError)) throw err;
    if (err.problem === 'scheme') {
      throw new ConfigError(`--to must be a ${orList(ENGINES.map(schemesPhrase))} URL, not '${raw.replace(/:[^:@/]*@/, ':***@')}'`);
    }
    throw new ConfigError(`--to ${err.message}`);
  }
  const { engine, conn: given, database } = url;
  const account = credentials[engine.key];
  const user = given.user ?? account.user;
  const password = given.password ?? account.password;
  const conn: ServerConnection = {
    host: given.host,
    port: given.port,
    user,
    ...(password ? { password } : {}),
    ...(given.extraEnv ? { extraEnv: given.extraEnv } : {}),
  };
  return { engine, conn, ...(database !== undefined ? { database } : {}), label: urlLabel(engine, conn, database) };
}

/** An active container as the target: the configured DB host, its Port, the engine's admin account. */
export function containerDestination(container: { name: string; port: number }, engine: Engine, config: Pick<Config, 'dbHost' | 'credentials'>): RestoreDestination {
  const { user, password } = config.credentials[engine.key];
  return {
    engine,
    conn: { host: config.dbHost, port: container.port, user, ...(password ? { password } : {}) },
    label: `container ${container.name} (${config.dbHost}:${container.port})`,
  };
}

/** The verification server configured for an engine (BACKUP_VERIFY_{KEY}_URL), with the database its URL names. */
export function verifyServer(config: Config, engine: Engine): (RestoreDestination & { maintenanceDb?: string }) | undefined {
  const url = config.verify.servers[engine.key];
  if (!url) return undefined;
  const { database, ...server } = parseTargetUrl(url, config.credentials);
  return { ...server, maintenanceDb: database };
}
