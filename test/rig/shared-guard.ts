/**
 * The shared "container" servers (pgA, pgB, MariaDB) are backed up by several test files at once, each dump listing
 * every database and role. A test that creates or drops a database or a role there races with those dumps (pg_dump:
 * `database "restored_…" does not exist`). This watch notices any such statement run after seeding, so the suite
 * fails, naming it, instead of flaking now and then; tests restore into servers of their own instead.
 *
 * PostgreSQL: log_statement = 'ddl' from the end of seeding, and the log read from there on (a database created and
 * dropped again leaves no trace in the catalogs). MariaDB: its Com_* statement counters.
 */
import { open } from 'node:fs/promises';
import type { MariaHandle } from './mariadb.js';
import type { PgHandle } from './postgres.js';

const PG_SHARED_DDL = /\b(CREATE|DROP|ALTER)\s+(DATABASE|ROLE|USER|GROUP|TABLESPACE)\b/i;
const MARIA_COUNTERS = ['Com_create_db', 'Com_drop_db', 'Com_alter_db', 'Com_create_user', 'Com_drop_user', 'Com_rename_user', 'Com_create_role', 'Com_drop_role'];

export interface SharedServers {
  pg: Record<string, PgHandle>;
  maria: MariaHandle;
}

/** Starts watching; the function it returns lists what changed since (empty when nothing did). */
export async function watchSharedServers(servers: SharedServers): Promise<() => Promise<string[]>> {
  const pgOffsets = new Map<string, number>();
  for (const [name, pg] of Object.entries(servers.pg)) {
    await pg.query('postgres', "ALTER SYSTEM SET log_statement = 'ddl'");
    await pg.query('postgres', 'SELECT pg_reload_conf()');
    // A statement that shows in the log once the reload took: from here on every DDL statement is logged.
    await waitForLogLine(pg, `mydb_rig_watch_${name}`);
    pgOffsets.set(name, await fileSize(pg.logFile));
  }
  const mariaBefore = await mariaCounters(servers.maria);

  return async () => {
    const changes: string[] = [];
    for (const [name, pg] of Object.entries(servers.pg)) {
      for (const statement of await loggedStatements(pg.logFile, pgOffsets.get(name)!)) {
        if (PG_SHARED_DDL.test(statement)) changes.push(`${name}: ${statement.replace(/PASSWORD\s+'[^']*'/gi, "PASSWORD '***'").slice(0, 200)}`);
      }
    }
    const mariaAfter = await mariaCounters(servers.maria);
    for (const counter of MARIA_COUNTERS) {
      const ran = (mariaAfter.get(counter) ?? 0) - (mariaBefore.get(counter) ?? 0);
      if (ran > 0) changes.push(`maria: ${ran} × ${counter.replace(/^Com_/, '').replace('_', ' ').toUpperCase()}`);
    }
    return changes;
  };
}

async function fileSize(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    return (await file.stat()).size;
  } finally {
    await file.close();
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await file.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await file.close();
  }
}

/** The text of each `LOG:  statement: …` entry (continuation lines included) logged after `offset`. */
async function loggedStatements(logFile: string, offset: number): Promise<string[]> {
  // An entry starts with log_line_prefix's timestamp ('%m [%p] ').
  const entries = (await readFrom(logFile, offset)).split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/);
  return entries.flatMap((e) => {
    const at = e.indexOf(' LOG:  statement: ');
    return at < 0 ? [] : [e.slice(at + ' LOG:  statement: '.length).trim()];
  });
}

/** Runs a harmless DDL statement until it shows in the log (the reload is asynchronous). */
async function waitForLogLine(pg: PgHandle, marker: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const start = await fileSize(pg.logFile);
  for (;;) {
    await pg.query('postgres', `CREATE TEMP TABLE ${marker} (x int)`);
    if ((await readFrom(pg.logFile, start)).includes(marker)) return;
    if (Date.now() > deadline) throw new Error(`log_statement = 'ddl' did not take effect on port ${pg.port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function mariaCounters(maria: MariaHandle): Promise<Map<string, number>> {
  const names = MARIA_COUNTERS.map((c) => `'${c}'`).join(', ');
  const rows = await maria.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${names})`);
  return new Map(rows.map(([name, value]) => [name!, Number(value)]));
}
