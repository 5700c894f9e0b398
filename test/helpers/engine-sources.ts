/** The backup and restore targets the engine tests build commands for (no server behind them). */
import type { Container } from '../../src/admin-db/container-info.js';
import type { Compression } from '../../src/engines/compression.js';
import type { RestoreTarget, DumpSource } from '../../src/engines/index.js';

/** Everything an option file, a YAML scalar or a shell could trip on. */
export const PASSWORD = `pa ss"w'o\\rd #;=$(id) ü`;
export const BACKUP_ID = '2025-03-01_02:00:07';

export const container = (name: string, engine: string, port = 32015): Container => ({ id: 7, name, rowName: name, frequency: 'Daily', engine, port });

export function dumpSource(engine: string, compression: Compression = 'none', name = 'shop'): DumpSource {
  return { container: container(name, engine), host: 'db.internal', port: 32015, user: 'admin', password: PASSWORD, compression };
}

export const restoreTo: RestoreTarget = { host: 'db.internal', port: 32016, user: 'admin', password: PASSWORD };
