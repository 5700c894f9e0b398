// How restore/ reaches a target server, for each ServerProtocol an engine can name (engines/types.ts): the one place
// that maps an engine to the code that asks its servers questions. Engines get the TargetServer, never the driver.
import type { Engine } from '../engines/index.js';
import type { ServerConnection, ServerProtocol, TargetServer } from '../engines/types.js';
import type { Masker } from '../util/mask.js';
import { mariadbServer } from './mariadb-server.js';
import { postgresServer } from './postgres-server.js';

export interface TargetServerOptions {
  /** The database to connect to for questions about the others (PostgreSQL; default postgres). */
  maintenanceDb?: string;
  mask: Masker;
}

const PROTOCOLS: Record<ServerProtocol, (conn: ServerConnection, options: TargetServerOptions) => TargetServer> = {
  postgres: postgresServer,
  mariadb: mariadbServer,
};

/** The engine's target server at `conn`, or undefined for an engine restore/ has no client for (MongoDB). */
export function targetServer(engine: Engine, conn: ServerConnection, options: TargetServerOptions): TargetServer | undefined {
  return engine.server === undefined ? undefined : PROTOCOLS[engine.server](conn, options);
}
