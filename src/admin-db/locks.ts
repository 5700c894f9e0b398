// PostgreSQL advisory locks on the admin DB: one per run kind (a second cron run of the same kind exits 3 and says
// who holds it), and one per container being backed up (workers on several hosts divide the fleet; nothing is
// backed up twice at once). Session locks, on one dedicated connection: they vanish if the process dies.
import { hostname } from 'node:os';
import pg from 'pg';
import { CannotStartError, errorText } from '../errors.js';

const RUN_NAMESPACE = 'mydb-backup:run';
const CONTAINER_NAMESPACE = 'mydb-backup:container';

/** A stable 31-bit key for a name (FNV-1a), so the lock's identity is the same in every process and version. */
export function lockKey(name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

/** The owners whose claim some process holds now: a live backup (a container's id; 0 for the admin DB's own). */
export async function heldClaims(db: { query: pg.Pool['query'] }): Promise<Set<number>> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT l.objid::text AS id FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int8::oid AND l.objsubid = 2`,
    [lockKey(CONTAINER_NAMESPACE)],
  );
  return new Set(rows.map((r) => Number(r.id)));
}

export interface LockHolder {
  application: string;
  clientAddr: string | null;
  since: Date;
}

export class AdminLocks {
  private constructor(private readonly client: pg.Client) {}

  /** application_name tells other runs who holds a lock: `mydb-backup nightly host=db1 pid=4242`. */
  static async open(url: string, label: string, mask: (s: string) => string): Promise<AdminLocks> {
    const client = new pg.Client({
      connectionString: url,
      application_name: `mydb-backup ${label} host=${hostname()} pid=${process.pid}`.slice(0, 63),
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      throw new CannotStartError(`cannot reach the admin database: ${mask(errorText(err))}`);
    }
    return new AdminLocks(client);
  }

  /** Takes the run lock for this kind, or throws CannotStartError naming the holder. */
  async lockRun(kind: string): Promise<void> {
    const key = lockKey(kind);
    const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [lockKey(RUN_NAMESPACE), key]);
    if (rows[0]?.ok) return;
    const holder = await this.holder(lockKey(RUN_NAMESPACE), key);
    throw new CannotStartError(
      `another ${kind} run holds the lock${holder ? `: ${holder.application} from ${holder.clientAddr ?? 'local socket'}, connected since ${holder.since.toISOString()}` : ''}`,
    );
  }

  /** Claims one container for this process; false when another run or worker is backing it up. */
  async claim(containerId: number): Promise<boolean> {
    const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [lockKey(CONTAINER_NAMESPACE), containerId]);
    return rows[0]?.ok === true;
  }

  async release(containerId: number): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock($1, $2)', [lockKey(CONTAINER_NAMESPACE), containerId]).catch(() => {});
  }

  async claimHolder(containerId: number): Promise<LockHolder | undefined> {
    return this.holder(lockKey(CONTAINER_NAMESPACE), containerId);
  }

  private async holder(key1: number, key2: number): Promise<LockHolder | undefined> {
    const { rows } = await this.client.query<{ application_name: string; client_addr: string | null; backend_start: Date }>(
      `SELECT a.application_name, host(a.client_addr) AS client_addr, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int8::oid AND l.objid = $2::int8::oid AND l.objsubid = 2
          AND a.pid <> pg_backend_pid()`,
      [key1, key2],
    );
    const row = rows[0];
    return row ? { application: row.application_name, clientAddr: row.client_addr, since: row.backend_start } : undefined;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}
