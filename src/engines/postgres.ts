// PostgreSQL: the roles and tablespaces (pg_dumpall --globals-only) plus one custom-format dump per database.
import type { Command, DumpStep, Engine, RestoreStep, RestoreTarget, Target } from './types.js';
import { compressionOf, safeSegment } from './names.js';

const LIST_DATABASES = `SELECT datname, pg_database_size(datname) FROM pg_database
  WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname`;

interface PgConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Extra libpq settings (PGSSLMODE...) taken from a URL. */
  extraEnv?: Record<string, string>;
}

function connection(t: PgConnection): Pick<Command, 'env' | 'secretEnv'> {
  return {
    env: { PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGCONNECT_TIMEOUT: '15', PGAPPNAME: 'mydb-backup', ...t.extraEnv },
    ...(t.password ? { secretEnv: { PGPASSWORD: t.password } } : {}),
  };
}

/** A postgresql:// URL (the admin DB's) → connection settings and database, the password kept out of argv. */
export function connectionFromUrl(url: string): PgConnection & { database: string } {
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode');
  return {
    host: u.searchParams.get('host') ?? u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    database: decodeURIComponent(u.pathname.slice(1)),
    ...(sslmode ? { extraEnv: { PGSSLMODE: sslmode } } : {}),
  };
}

/** pg_dump -Fc of one database: the containers' databases and the admin DB's own backup. */
export function dumpDatabaseStep(conn: PgConnection, database: string, objectName: string, sizeHint?: number): DumpStep {
  return {
    command: { argv: ['pg_dump', '-Fc', '--no-password', '-d', dbConninfo(database)], ...connection(conn) },
    objectName,
    compression: 'none',
    ...(sizeHint ? { sizeHint } : {}),
  };
}

/** A database name as a libpq conninfo, so names with '=' or spaces are never read as options. */
function dbConninfo(db: string): string {
  return `dbname='${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function parseDatabaseList(output: string): { name: string; size: number }[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', size = '0'] = line.split('\t');
      return { name, size: Number(size) || 0 };
    });
}

export const postgres: Engine = {
  name: 'Postgres',
  configKey: 'postgres',
  aliases: ['postgresql', 'pg'],
  tools: ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore'],

  inventory: (t: Target) => ({
    argv: ['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', LIST_DATABASES],
    ...connection(t),
  }),

  dumpSteps(t: Target, inventoryOutput: string): DumpStep[] {
    const name = safeSegment(t.container.name);
    const globals: DumpStep = {
      command: { argv: ['pg_dumpall', '--globals-only', '--no-password', '-l', 'postgres'], ...connection(t) },
      objectName: `${name}_globals.sql`,
      compression: 'none',
    };
    const databases = parseDatabaseList(inventoryOutput).map((db) =>
      dumpDatabaseStep(t, db.name, `${name}_${safeSegment(db.name)}.dump`, db.size),
    );
    return [globals, ...databases];
  },

  restoreSteps(objectNames: string[], to: RestoreTarget): RestoreStep[] {
    const steps: RestoreStep[] = [];
    const globals = objectNames.find((n) => /_globals\.sql(\.gz|\.zst)?$/.test(n));
    // Globals first: the roles must exist before the objects they own are restored.
    if (globals && !to.database) {
      steps.push({
        objectName: globals,
        compression: compressionOf(globals),
        // Roles that already exist make CREATE ROLE fail; that is expected on a live server, so no ON_ERROR_STOP here.
        command: { argv: ['psql', '-X', '-q', '-d', 'postgres'], ...connection(to) },
      });
    }
    for (const objectName of objectNames.filter((n) => /\.dump(\.gz|\.zst)?$/.test(n))) {
      const db = databaseOfObject(objectName);
      if (to.database && db !== to.database) continue;
      steps.push({
        objectName,
        compression: compressionOf(objectName),
        command: {
          argv: ['pg_restore', '--exit-on-error', '--no-password', '--create', '-d', 'postgres'],
          ...connection(to),
        },
      });
    }
    return steps;
  },
};

/** `{Name}_{db}.dump` → db (the container name may itself contain '_', the db name is matched last). */
export function databaseOfObject(objectName: string): string {
  const base = objectName.replace(/\.dump(\.gz|\.zst)?$/, '');
  const cut = base.indexOf('_');
  return cut >= 0 ? base.slice(cut + 1) : base;
}
