// The one parser of database URLs (the admin DB's, the verification servers', restore's --to):
// `scheme[+driver]://[user[:password]@]host[:port][/path][?query]`, the scheme naming the engine (EngineUrls).
import type { EngineDefinition as Engine, ServerConnection } from './types.js';

export type DbUrlProblem = 'scheme' | 'invalid' | 'host';

/** Why a URL cannot be read; callers say it in their own words (which setting, which option). */
export class DbUrlError extends Error {
  constructor(
    readonly problem: DbUrlProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface DbUrl<E extends Pick<Engine, 'urls'>> {
  engine: E;
  /** The host (a `?host=` parameter wins: libpq's socket directories), the port (the engine's default). */
  conn: Omit<ServerConnection, 'user'> & { user?: string };
  /** The path, decoded: the database, for an engine whose URLs name one; undefined when empty. */
  database?: string;
  /** The URL as given, under its engine's canonical scheme and without a driver suffix (password included). */
  normalised: string;
}

/** `postgresql://`, `mariadb:// (mysql://)`: an engine's schemes as messages name them (abbreviations left out). */
export function schemesPhrase(engine: Pick<Engine, 'urls'>): string {
  const [canonical, ...others] = engine.urls.schemes;
  const named = others.filter((s) => !canonical.startsWith(s));
  return `${canonical}://${named.length ? ` (${named.map((s) => `${s}://`).join(', ')})` : ''}`;
}

const SCHEME = /^([a-z][a-z0-9]*)(\+[a-z0-9_]+)?:\/\//i;

/** Reads a URL of one of `engines`; throws DbUrlError. Pure. */
export function parseDbUrl<E extends Pick<Engine, 'urls'>>(raw: string, engines: readonly E[]): DbUrl<E> {
  const text = raw.trim();
  const match = SCHEME.exec(text);
  const scheme = match?.[1]?.toLowerCase();
  const engine = engines.find((e) => scheme !== undefined && e.urls.schemes.includes(scheme));
  if (!match || !engine) throw new DbUrlError('scheme', `must start with ${engines.map(schemesPhrase).join(' or ')}`);
  let url: URL;
  try {
    url = new URL(`${engine.urls.schemes[0]}://${text.slice(match[0].length)}`);
  } catch {
    throw new DbUrlError('invalid', 'is not a valid URL');
  }
  const host = url.searchParams.get('host') ?? url.hostname;
  if (!host) throw new DbUrlError('host', 'has no host');
  const env = Object.entries(engine.urls.queryEnv ?? {}).flatMap(([param, name]) => {
    const value = url.searchParams.get(param);
    return value ? [[name, value] as const] : [];
  });
  const path = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  return {
    engine,
    conn: {
      host,
      port: url.port ? Number(url.port) : engine.urls.defaultPort,
      ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(env.length ? { extraEnv: Object.fromEntries(env) } : {}),
    },
    ...(engine.urls.pathIsDatabase && path !== '' ? { database: path } : {}),
    normalised: url.toString(),
  };
}

/** `postgresql://user@host:port/db`: a URL for messages and action_log rows, without a password. */
export function urlLabel(engine: Pick<Engine, 'urls'>, conn: { host: string; port: number; user: string }, database?: string): string {
  return `${engine.urls.schemes[0]}://${encodeURIComponent(conn.user)}@${conn.host}:${conn.port}/${database ? encodeURIComponent(database) : ''}`;
}
