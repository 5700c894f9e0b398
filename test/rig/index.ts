/**
 * The whole rig: an admin PostgreSQL, two "container" PostgreSQL servers, a MariaDB and moto, seeded, in one
 * throwaway directory. Used by vitest's global setup and by scripts (demo, bench). No vitest imports here.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mariaHandle, mariaInfo, startMariadb, type MariaHandle, type MariaInfo, type MariaServer } from './mariadb.js';
import { motoInfo, startMoto, type MotoInfo, type MotoServer } from './moto.js';
import { ownedDir } from './proc.js';
import { pgHandle, pgInfo, startPostgres, type PgHandle, type PgInfo, type PgServer } from './postgres.js';
import { reapDir, reapWhenProcessExits } from './reap.js';
import { PG_CONTAINER_A, PG_CONTAINER_B, seedMariadbContainer, seedPostgresContainer } from './seed.js';
import { errorMessage } from './wait.js';

export * from './mariadb.js';
export * from './moto.js';
export * from './moto-iam.js';
export * from './ports.js';
export * from './postgres.js';
export * from './rgw.js';
export * from './s3.js';
export * from './seed.js';
export * from './smtp.js';
export { reapDir } from './reap.js';
export { waitUntil, GiveUp } from './wait.js';

export const RIG_PASSWORDS = {
  /** pgdba on the admin server. */
  admin: 'adm-Secr3t!z',
  /** pgdba on pgA and pgB (one admin account per engine, as in production). */
  pg: 'pg-Secr3t!x',
  /** root on MariaDB. */
  maria: 'maria-Secr3t!y',
} as const;

/** JSON-serialisable description of a running rig (what vitest's globalSetup provides as 'rig'). */
export interface RigInfo {
  baseDir: string;
  admin: PgInfo;
  pgA: PgInfo;
  pgB: PgInfo;
  maria: MariaInfo;
  moto: MotoInfo;
}

/** Handles over a RigInfo: url()/query() work from any process. */
export interface RigHandles {
  baseDir: string;
  admin: PgHandle;
  pgA: PgHandle;
  pgB: PgHandle;
  maria: MariaHandle;
  moto: MotoInfo;
}

export interface Rig extends RigHandles {
  info: RigInfo;
  admin: PgServer;
  pgA: PgServer;
  pgB: PgServer;
  maria: MariaServer;
  moto: MotoServer;
  /** Stops every server (also those tests left running under baseDir) and removes baseDir (kept when MYDB_RIG_KEEP=1). */
  stop(): Promise<void>;
}

export function rigHandles(info: RigInfo): RigHandles {
  return {
    baseDir: info.baseDir,
    admin: pgHandle(info.admin),
    pgA: pgHandle(info.pgA),
    pgB: pgHandle(info.pgB),
    maria: mariaHandle(info.maria),
    moto: motoInfo(info.moto),
  };
}

/** A fresh subdirectory of the rig's baseDir (mode 755) for a test's private servers or files. */
export async function scratchDir(baseDir: string, label: string): Promise<string> {
  return ownedDir(await mkdtemp(join(baseDir, `${label.replace(/[^\w-]+/g, '_')}-`)));
}

const running = new Set<Rig>();

type RigServers = Pick<Rig, 'admin' | 'pgA' | 'pgB' | 'maria' | 'moto'>;

/** Starts and seeds everything (in parallel); on any failure kills what did start, removes the dir, throws. */
export async function startRig(baseDir?: string): Promise<Rig> {
  const dir = await ownedDir(baseDir ?? (await mkdtemp(join(tmpdir(), 'mydb-rig-'))));
  const stopWatchdog = reapWhenProcessExits(dir);
  const cleanUp = async () => {
    await reapDir(dir); // kills whatever still runs from dir: leftovers of a failed start, servers tests left behind
    stopWatchdog();
  };
  let servers: RigServers;
  try {
    servers = await startServers(dir);
    await Promise.all([
      seedPostgresContainer(servers.pgA, PG_CONTAINER_A),
      seedPostgresContainer(servers.pgB, PG_CONTAINER_B),
      seedMariadbContainer(servers.maria),
    ]);
  } catch (e) {
    await cleanUp();
    throw new Error(`test rig failed to start: ${errorMessage(e)}`, { cause: e });
  }
  const rig: Rig = {
    ...servers,
    baseDir: dir,
    info: {
      baseDir: dir,
      admin: pgInfo(servers.admin),
      pgA: pgInfo(servers.pgA),
      pgB: pgInfo(servers.pgB),
      maria: mariaInfo(servers.maria),
      moto: motoInfo(servers.moto),
    },
    async stop() {
      running.delete(rig);
      await Promise.allSettled(Object.values(servers).map((s) => s.stop()));
      await cleanUp();
    },
  };
  running.add(rig);
  return rig;
}

/** All servers in parallel; when one fails, waits for the others to settle (so none starts later) and throws. */
async function startServers(dir: string): Promise<RigServers> {
  const pg = (name: string, adminPassword: string) => startPostgres({ baseDir: dir, name, adminPassword });
  const pending = {
    admin: pg('admin', RIG_PASSWORDS.admin),
    pgA: pg('pgA', RIG_PASSWORDS.pg),
    pgB: pg('pgB', RIG_PASSWORDS.pg),
    maria: startMariadb({ baseDir: dir, rootPassword: RIG_PASSWORDS.maria }),
    moto: startMoto({ baseDir: dir }),
  };
  const results = await Promise.allSettled(Object.values(pending));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
  if (failures.length > 0) throw new Error(failures.join('\n\n'));
  return {
    admin: await pending.admin,
    pgA: await pending.pgA,
    pgB: await pending.pgB,
    maria: await pending.maria,
    moto: await pending.moto,
  };
}

/** Stops every rig this process started. */
export async function stopRig(): Promise<void> {
  await Promise.all([...running].map((rig) => rig.stop()));
}
