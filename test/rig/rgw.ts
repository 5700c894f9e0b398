/**
 * A real single-node Ceph RGW (S3) on 127.0.0.1, started by ceph-rgw.sh (mon + memstore OSD + radosgw, ~15 s):
 * the store the S3-facing behaviour is checked against besides moto. State lives in memory and is lost on stop.
 * It is not part of the global rig: only the RGW test file pays for its start and its memory.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onEmergencyExit } from './cleanup.js';
import { findBinary, ownedDir, runTool } from './proc.js';
import { withLogTails } from './wait.js';

const SCRIPT = fileURLToPath(new URL('./ceph-rgw.sh', import.meta.url));
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const PROGRAMS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool', 'curl'];
const START_TIMEOUT_MS = 180_000;

export interface RgwInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The key of RGW's testing KMS backend (rgw crypt s3 kms encryption keys): what BACKUP_SSE_KMS_KEY_ID names. */
  kmsKeyId: string;
  dir: string;
}

export interface RgwServer extends RgwInfo {
  stop(): Promise<void>;
}

/** What is missing to run RGW here: scripts/setup.sh installs it (a test never runs apt-get). */
export function missingRgwPrograms(): string[] {
  return PROGRAMS.filter((p) => {
    try {
      findBinary(p, SBIN);
      return false;
    } catch {
      return true;
    }
  });
}

export async function startRgw(opts: { baseDir: string; name?: string }): Promise<RgwServer> {
  const missing = missingRgwPrograms();
  if (missing.length > 0) {
    throw new Error(`Ceph RGW cannot start: ${missing.join(', ')} not installed (scripts/setup.sh installs ceph-mon, ceph-osd, radosgw, ceph-common, curl)`);
  }
  const dir = await ownedDir(join(opts.baseDir, opts.name ?? 'rgw'));
  const logs = ['mon.a', 'osd.0', 'client.rgw.a'].map((n) => join(dir, 'log', `${n}.log`));
  // The daemons detach; until they are stopped, an exit of this process must not leave them running.
  const forget = onEmergencyExit(() => killDaemons(dir));
  const stop = async () => {
    await runTool('bash', [SCRIPT, 'down', dir], { cwd: '/', timeoutMs: 60_000 });
    forget();
  };
  try {
    return await withLogTails(logs, async () => {
      // cwd = dir: the daemons keep it, which is how reap.sh recognises them as this rig's. The script returns once
      // RGW answers a signed request.
      await runTool('bash', [SCRIPT, 'up', dir], { cwd: dir, timeoutMs: START_TIMEOUT_MS });
      const env = parseEnvFile(await readFile(join(dir, 'rgw.env'), 'utf8'));
      const info: RgwInfo = {
        endpoint: env.RGW_ENDPOINT!,
        accessKeyId: env.RGW_ACCESS_KEY!,
        secretAccessKey: env.RGW_SECRET_KEY!,
        kmsKeyId: env.RGW_KMS_KEY_ID!,
        dir,
      };
      return { ...info, stop };
    });
  } catch (e) {
    killDaemons(dir);
    forget();
    throw e;
  }
}

function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** SIGKILL each daemon from its pid file; synchronous (runs at process exit too), idempotent. */
function killDaemons(dir: string): void {
  for (const name of ['client.rgw.a', 'osd.0', 'mon.a']) {
    try {
      const pid = Number(readFileSync(join(dir, 'run', `${name}.pid`), 'utf8').trim());
      // Only a process still running from dir (a stale pid file may name another process by now).
      if (pid > 0 && readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // no pid file, or gone already
    }
  }
}
