/** The rig as tests see it: handles rebuilt from what the global setup provided. */
import { inject } from 'vitest';
import { rigHandles, type RigHandles, type RigInfo } from '../rig/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    rig: RigInfo;
  }
}

export type { RigHandles, RigInfo };

/**
 * The shared servers: pgA.url('shop'), pgA.query('shop', sql), maria.query(sql), moto.endpoint, ...
 * Test files run two at a time and several back up pgA, pgB and maria (every database, every role): read them, never
 * create or drop databases or roles there. Restores go to a server the file starts itself (startPostgres /
 * startMariadb under scratchDir(rig.baseDir, ...)); test/helpers/restore.ts accepts only such a server.
 */
export function getRig(): RigHandles {
  const info = inject('rig');
  if (!info) throw new Error('no test rig: the global setup did not start it (MYDB_RIG=off?)');
  return rigHandles(info);
}
