/** The rig as tests see it: handles rebuilt from what the global setup provided. */
import { inject } from 'vitest';
import { rigHandles, type RigHandles, type RigInfo } from '../rig/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    rig: RigInfo;
  }
}

export type { RigHandles, RigInfo };

/** The shared servers: pgA.url('shop'), pgA.query('shop', sql), maria.query(sql), moto.endpoint, ... */
export function getRig(): RigHandles {
  const info = inject('rig');
  if (!info) throw new Error('no test rig: the global setup did not start it (MYDB_RIG=off?)');
  return rigHandles(info);
}
