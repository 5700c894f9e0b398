/** moto_server (S3 emulator) on 127.0.0.1; state lives in memory and is lost on stop. */
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort, LOOPBACK } from './ports.js';
import { ownedDir, spawnServer, type ServerProcess } from './proc.js';
import { GiveUp, waitUntil, withLogTails } from './wait.js';

const READY_TIMEOUT_MS = 20_000;

export interface MotoInfo {
  endpoint: string;
  port: number;
  logFile: string;
}

export interface MotoServer extends MotoInfo {
  stop(): Promise<void>;
  /** Starts it again on the same port (empty). */
  start(): Promise<void>;
}

export interface StartMotoOptions {
  baseDir: string;
  name?: string;
  port?: number;
}

export function motoInfo(m: MotoInfo): MotoInfo {
  const { endpoint, port, logFile } = m;
  return { endpoint, port, logFile };
}

export async function startMoto(opts: StartMotoOptions): Promise<MotoServer> {
  const dir = await ownedDir(join(opts.baseDir, opts.name ?? 'moto'));
  const port = opts.port ?? (await freePort());
  const info: MotoInfo = { endpoint: `http://${LOOPBACK}:${port}`, port, logFile: join(dir, 'moto.log') };
  let server: ServerProcess | undefined;

  const start = () =>
    withLogTails([info.logFile], async () => {
      const running = spawnServer('moto_server', ['-H', LOOPBACK, '-p', String(port)], { logFile: info.logFile, cwd: dir, pidFile: join(dir, 'moto.pid') });
      server = running;
      const probe = async () => {
        if (!running.running()) throw new GiveUp('moto_server exited');
        return (await httpStatus(info.endpoint)) > 0;
      };
      await waitUntil(probe, READY_TIMEOUT_MS, `moto_server to answer HTTP on ${info.endpoint}`);
    });

  await start();
  return { ...info, start, stop: async () => server?.stop('SIGTERM') };
}

/** Status of a GET without keep-alive (no pooled socket outlives the probe). */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
