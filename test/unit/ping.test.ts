// The dead-man's switch against a local HTTP server standing in for healthchecks.io.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pingFinish, pingStart } from '../../src/notify/ping.js';
import { backupResult, runSummary } from '../helpers/summaries.js';
import type { BackupResult } from '../../src/pipeline/backup-job.js';
import type { RunSummary } from '../../src/run/summary.js';

interface Hit {
  method: string;
  path: string;
  body: string;
}
const hits: Hit[] = [];
let server: Server;
let base: string;
let status = 200;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', path: req.url ?? '', body });
      if (req.url?.includes('hang')) return; // never answers
      res.statusCode = status;
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const result = (name: string, ok: boolean): BackupResult =>
  backupResult(name, { ok, errMsg: ok ? '' : 'ERROR: pg_dump exited with code 1: password hunter2 rejected' }, 'b');
const summary = (results: BackupResult[]): RunSummary => runSummary({ results });
const log = pino({ level: 'silent' });

describe('ping', () => {
  it('start, then success: /start and the bare URL', async () => {
    hits.length = 0;
    const config = { pingUrl: `${base}/uuid-1`, secrets: [] };
    await pingStart(config, log);
    await pingFinish(config, summary([result('alpha', true)]), log);
    expect(hits.map((h) => `${h.method} ${h.path}`)).toEqual(['POST /uuid-1/start', 'POST /uuid-1']);
  });

  it('failure: /fail with the summary, secrets masked', async () => {
    hits.length = 0;
    await pingFinish({ pingUrl: `${base}/uuid-2`, secrets: ['hunter2'] }, summary([result('alpha', true), result('echo', false)]), log);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.path).toBe('/uuid-2/fail');
    expect(hits[0]!.body).toContain('FAILED: 1 of 2 backups failed');
    expect(hits[0]!.body).toContain('echo (Daily, 2026-12-01_02:00:07): ERROR: pg_dump exited with code 1');
    expect(hits[0]!.body).not.toContain('hunter2');
  });

  it('no URL: nothing; a refusing or unreachable monitor never throws', async () => {
    hits.length = 0;
    await pingStart({}, log);
    status = 500;
    await pingStart({ pingUrl: `${base}/uuid-3` }, log);
    status = 200;
    expect(hits.map((h) => h.path)).toEqual(['/uuid-3/start', '/uuid-3/start']); // retried once
    await expect(pingStart({ pingUrl: 'http://127.0.0.1:1/nothing' }, log)).resolves.toBeUndefined();
  });
});
