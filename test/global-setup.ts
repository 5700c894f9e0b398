/** vitest globalSetup: real servers for the whole run, provided to test files as 'rig' (see helpers/rig.ts). */
import type { TestProject } from 'vitest/node';
import { startRig } from './rig/index.js';
import { watchSharedServers } from './rig/shared-guard.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.MYDB_RIG === 'off') return async () => {};
  const started = Date.now();
  const rig = await startRig();
  let changesToSharedServers: () => Promise<string[]>;
  try {
    changesToSharedServers = await watchSharedServers({ pg: { pgA: rig.pgA, pgB: rig.pgB }, maria: rig.maria });
  } catch (err) {
    await rig.stop();
    throw err;
  }
  console.log(`[rig] up in ${((Date.now() - started) / 1000).toFixed(1)} s under ${rig.baseDir}`);
  project.provide('rig', rig.info);
  return async () => {
    const changes = await changesToSharedServers().catch((err: unknown) => [`could not tell: ${(err as Error).message}`]);
    await rig.stop();
    if (changes.length > 0) {
      throw new Error(
        'a test created, dropped or altered databases or roles on the shared servers, which other test files back up at ' +
          `the same time (restore into a server of your own, see test/helpers/rig.ts):\n  ${changes.join('\n  ')}`,
      );
    }
  };
}
