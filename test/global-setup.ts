/** vitest globalSetup: real servers for the whole run, provided to test files as 'rig' (see helpers/rig.ts). */
import type { TestProject } from 'vitest/node';
import { startRig } from './rig/index.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.MYDB_RIG === 'off') return async () => {};
  const started = Date.now();
  const rig = await startRig();
  console.log(`[rig] up in ${((Date.now() - started) / 1000).toFixed(1)} s under ${rig.baseDir}`);
  project.provide('rig', rig.info);
  return () => rig.stop();
}
