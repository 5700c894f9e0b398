/** Removal of a rig directory together with any server still running from it (see reap.sh). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTool } from './proc.js';

const REAP_SH = fileURLToPath(new URL('./reap.sh', import.meta.url));

/**
 * Kills every server still running from `dir` (e.g. a test's private ones) and removes it. By the end of a full run
 * the directory holds gigabytes (every private server's data), whose removal on a busy machine has taken over a
 * minute: it is given ten.
 */
export async function reapDir(dir: string): Promise<void> {
  await runTool('sh', [REAP_SH, dir], { timeoutMs: 600_000 });
}

/**
 * A detached watchdog that reaps `dir` once this process is gone, however it ends (SIGKILL included), and
 * quits by itself when `dir` is removed. Returns a function that stops it.
 */
export function reapWhenProcessExits(dir: string): () => void {
  const watchdog = spawn('sh', [REAP_SH, dir, String(process.pid)], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return () => {
    if (watchdog.exitCode === null && watchdog.pid) watchdog.kill('SIGKILL');
  };
}
