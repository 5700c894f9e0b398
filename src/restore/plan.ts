// What a restore will do, decided before anything is written: the backup's engine plans it (engines/*.ts
// planRestore) after asking the target what it holds, through the server access restore/ hands it. A non-empty target
// database is refused unless --force; databases this restore creates are dropped again if it fails, so a failed
// restore leaves the target as it was wherever the engine allows.
import type { RestorePlan } from '../engines/types.js';
import { ConfigError } from '../errors.js';
import type { Masker } from '../util/mask.js';
import { backupLabel, databaseOf, type BackupSource } from './source.js';
import type { RestoreDestination } from './target.js';
import { targetServer } from './target-servers.js';

export type { RestorePlan };

export interface RestoreRequest {
  source: BackupSource;
  destination: RestoreDestination;
  /** --database: only this database of the backup (its name in the backup). */
  database?: string;
  /** Replace what non-empty target databases hold. */
  force: boolean;
}

export async function planRestore(req: RestoreRequest, mask: Masker): Promise<RestorePlan> {
  const { source, destination } = req;
  if (source.engine !== destination.engine) {
    throw new ConfigError(`backup ${backupLabel(source)} of '${source.name}' is a ${source.engine.name} backup: it cannot be restored into ${destination.label}`);
  }
  return source.engine.planRestore(
    {
      objectNames: source.folder.objects.map((o) => o.name),
      databaseOf: (objectName) => databaseOf(source, objectName),
      backup: `backup ${backupLabel(source)} of '${source.name}'`,
      conn: destination.conn,
      target: destination.label,
      ...(destination.database !== undefined ? { into: destination.database } : {}),
      ...(req.database !== undefined ? { database: req.database } : {}),
      force: req.force,
    },
    targetServer(destination.engine, destination.conn, { mask }),
  );
}
