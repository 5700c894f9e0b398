/**
 * Fault injection for real: stand-in dump programs (real processes that fail, hang or stream slowly), an HTTP
 * proxy in front of moto that answers 5xx / throttling / AccessDenied on chosen requests, or holds S3's answer back,, and a look at /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Shell bodies for a stand-in pg_dump. `pidFile` gets the script's pid and its children's. */
export const fakeDump = {
  /** Writes `bytes` of data, then fails like a pg_dump whose server went away. */
  failAfter: (bytes: number) =>
    `head -c ${bytes} /dev/urandom\necho "pg_dump: error: Dumping the contents of table \\"orders\\" failed: server closed the connection unexpectedly" >&2\nexit 1`,
  /** Writes a little, then hangs (with a child process, to prove the whole group is killed). */
  hang: (pidFile: string) => `echo $$ >> ${pidFile}\nhead -c 100000 /dev/urandom\nsleep 600 &\necho $! >> ${pidFile}\nwait`,
  /** Streams 64 KiB every 0.2 s, forever. */
  slow: (pidFile: string) => `echo $$ >> ${pidFile}\nwhile true; do head -c 65536 /dev/urandom; sleep 0.2; done`,
  /** Writes exactly `bytes` (pseudo-random) and exits 0: a stream of unknown length. */
  bytes: (bytes: number) => `head -c ${bytes} /dev/urandom`,
};

/** A directory with stand-in programs; put it first on PATH. Real pg_dumpall/psql stay in use. */
export async function fakeBin(dir: string, programs: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [name, body] of Object.entries(programs)) {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/bash\n${body}\n`);
    await chmod(path, 0o755);
  }
  return dir;
}

export async function readPids(pidFile: string): Promise<number[]> {
  try {
    return (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * argv of every descendant of `rootPid`, read from /proc: to prove no password is ever on a command line.
 * Synchronous on purpose: one quick pass over /proc, so overlapping polls cannot pile up under load.
 */
export function descendantCmdlines(rootPid: number): string[] {
  const parents = new Map<number, number>();
  const cmdlines = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
      cmdlines.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      /* gone meanwhile */
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parents.get(pid), hops = 0; p !== undefined && hops < 50; p = parents.get(p), hops++) if (p === rootPid) return true;
    return false;
  };
  return [...cmdlines].filter(([pid]) => isDescendant(pid)).map(([, cmd]) => cmd);
}

/**
 * What a request meets: an error answer, a dropped connection, or (`holdAnswer`) S3 does the request and its answer
 * waits for the promise before it reaches the client; 'drop' from the promise drops the connection instead.
 */
export type S3Fault = (
  req: IncomingMessage,
  url: URL,
) => { status: number; code: string } | 'drop' | { holdAnswer: () => Promise<void | 'drop'> } | undefined;

export interface FaultProxy {
  endpoint: string;
  /** What the next requests meet; undefined forwards everything. */
  fault: S3Fault | undefined;
  /** Requests seen, e.g. 'PUT partNumber' for UploadPart. */
  seen: string[];
  stop(): Promise<void>;
}

/** The S3 operation of a request, enough to aim faults at: CreateMultipartUpload, UploadPart, Complete, Abort... */
export function s3Operation(req: IncomingMessage, url: URL): string {
  const q = url.searchParams;
  if (req.method === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
  if (req.method === 'PUT' && q.has('partNumber')) return 'UploadPart';
  if (req.method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
  if (req.method === 'DELETE' && q.has('uploadId')) return 'AbortMultipartUpload';
  return `${req.method} ${url.pathname.split('/').length > 2 ? 'object' : 'bucket'}`;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const proxy: FaultProxy = { endpoint: '', fault: undefined, seen: [], stop: async () => {} };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    proxy.seen.push(s3Operation(req, url));
    const fault = proxy.fault?.(req, url);
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the test</Message><RequestId>test</RequestId></Error>`);
      });
      return;
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const answer = () => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        };
        if (fault) void fault.holdAnswer().then((then) => (then === 'drop' ? req.socket.destroy() : answer()));
        else answer();
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
