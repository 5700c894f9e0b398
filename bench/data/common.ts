/** What every data generator shares: the database servers' environments, a bash runner, dump sizes. */
import { execa } from 'execa';
import { withPgClient, type MariaHandle, type PgHandle } from '../../test/rig/index.js';
import { sh } from '../measure.js';

export const MIB = 1024 * 1024;

export interface Generated {
  /** What the data is, for the report's section heading. */
  description: string;
  seconds: number;
}

/** libpq's environment for `pg`; the password in PGPASSWORD, never on a command line. */
export function pgEnv(pg: PgHandle): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: pg.adminUser,
    PGPASSWORD: pg.adminPassword,
  };
}

/** The MariaDB clients' environment for `maria`: the password in MYSQL_PWD, never on a command line. */
export function mariaEnv(maria: MariaHandle): Record<string, string> {
  return { PATH: process.env.PATH ?? '', MYSQL_PWD: maria.rootPassword };
}

/** `--no-defaults` and the connection of a MariaDB client program (the password comes from mariaEnv). */
export function mariaArgs(maria: MariaHandle): string {
  return `--no-defaults --protocol=TCP --host=${maria.host} --port=${maria.port} --user=root`;
}

export async function bash(script: string, env: Record<string, string>): Promise<string> {
  const result = await execa('bash', ['-c', `set -euo pipefail\n${script}`], { env, extendEnv: false, reject: false });
  if (result.exitCode !== 0) throw new Error(`data generation failed: ${script}\n${result.stderr}`);
  return result.stdout;
}

/** Drops `db` (disconnecting its sessions) and creates it empty. */
export async function recreatePgDatabase(pg: PgHandle, db: string): Promise<void> {
  await withPgClient(pg.url('postgres'), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`);
  });
}

/** Bytes of `pg_dump -Fc` of `db` with `extraArgs` (e.g. -Z0: the uncompressed archive, the size the data is aimed at). */
export async function pgDumpBytes(pg: PgHandle, db: string, extraArgs: string[] = []): Promise<number> {
  return Number((await bash(`pg_dump -Fc ${extraArgs.map(sh).join(' ')} -d ${sh(db)} | wc -c`, pgEnv(pg))).trim());
}

/** Bytes of the SQL mariadb-dump writes for `db` alone. */
export async function mariaDumpBytes(maria: MariaHandle, db: string): Promise<number> {
  return Number((await bash(`mariadb-dump ${mariaArgs(maria)} --single-transaction --quick ${sh(db)} | wc -c`, mariaEnv(maria))).trim());
}
