/**
 * `npm run mail-png`: makes docs/mail.png, the picture of a summary mail in README. A real one: throwaway servers (the
 * test rig), an admin DB with three containers, fourteen nightly runs of `backup-all` (one per day, named by
 * MYDB_TEST_CLOCK) while the data grows, then most rows of a table deleted before the last night. The last mail's
 * HTML is rendered as a mail client shows it (its headers above it) by headless Chromium (Debian's `chromium`),
 * driven over the DevTools protocol so the picture is exactly as tall as the mail. Cleans up.
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminDb } from '../test/helpers/admin-db.js';
import { toolEnv } from '../test/helpers/run-cli.js';
import { createBucket, s3Client, startRig, startSmtp, type Rig, type SinkMessage } from '../test/rig/index.js';

const BIN = new URL('../bin/backup-all', import.meta.url).pathname;
const OUT = new URL('../docs/mail.png', import.meta.url).pathname;
const NIGHTS = 14;
const WIDTH = 1180;
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  say('Starting throwaway servers (PostgreSQL, MariaDB, moto S3, SMTP sink)...');
  const rig: Rig = await startRig();
  const smtp = await startSmtp();
  const work = await mkdtemp(join(tmpdir(), 'mail-png-'));
  try {
    await createAdminDb(rig.admin, 'mydb_admin', [
      { name: 'shop-prod', engine: 'Postgres', port: rig.pgA.port },
      { name: 'inventory', engine: 'Postgres', port: rig.pgB.port },
      { name: 'crm', engine: 'MariaDB', port: rig.maria.port },
    ]);
    const s3 = s3Client(rig.moto.endpoint);
    const bucket = await createBucket(s3, 'mydb-mail-png');
    s3.destroy();
    const env = toolEnv(rig, { adminDb: 'mydb_admin', bucket, smtp, extra: { PATH: process.env.PATH ?? '', TZ: 'UTC', LOG_LEVEL: 'warn' } });

    let mail: SinkMessage | undefined;
    const today = new Date();
    for (let night = 1; night <= NIGHTS; night += 1) {
      await grow(rig, night);
      // Before the last night, an application bug: most orders gone.
      if (night === NIGHTS) await rig.pgA.query('shop', 'DELETE FROM orders WHERE id % 25 <> 0');
      smtp.clear();
      // The nights up to this one: the last backup is named by today's 02:00:05 UTC.
      const clock = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (NIGHTS - night), 2, 0, 5)).toISOString();
      const run = await execa(process.execPath, ['--', BIN], { env: { ...env, MYDB_TEST_CLOCK: clock }, extendEnv: false, reject: false });
      if (run.exitCode !== 0) throw new Error(`night ${night}: backup-all exited ${run.exitCode}\n${run.stdout}\n${run.stderr}`);
      [mail] = await smtp.waitForMessages(1, 30_000);
      say(`night ${night}: ${mail?.subject}`);
    }
    const page = join(work, 'mail.html');
    await writeFile(page, asMailClientShowsIt(mail!));
    await screenshot(`file://${page}`, OUT, work);
    say(`\n${OUT} written`);
  } finally {
    await smtp.stop();
    await rig.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** A day's new rows: orders every day, stock now and then, a few contacts. */
async function grow(rig: Rig, night: number): Promise<void> {
  await rig.pgA.query('shop', `INSERT INTO orders (customer_id, amount, placed_at, status) SELECT 1 + i % 1000, 10 + i % 90, now(), 'new' FROM generate_series(1, ${150 + 20 * night}) i`);
  if (night % 3 === 0) {
    await rig.pgB.query('inventory', "INSERT INTO items (sku, warehouse, qty, price) SELECT 'NEW-' || md5(random()::text), 'ZRH', 1, 9.99 FROM generate_series(1, 120)");
  }
  await rig.maria.query(`INSERT INTO contacts (name, email, score, created_at) SELECT CONCAT('new ', UUID()), CONCAT(UUID(), '@example.test'), 1, NOW() FROM seq_1_to_40`, 'crm');
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The mail's own HTML, under the headers a mail client shows. */
function asMailClientShowsIt(mail: SinkMessage): string {
  const header = (name: string, value: string) => `<tr><td style="color:#666;padding-right:12px">${name}</td><td>${escapeHtml(value)}</td></tr>`;
  return `<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#fff;font-family:sans-serif">
<table style="width:100%;background:#f3f3f3;border-bottom:1px solid #ccc;padding:10px 16px;font-size:13px">
${header('From', mail.from)}${header('To', mail.headerTo)}${header('Subject', mail.subject)}
</table>
<div style="padding:4px 16px 16px">${mail.html}</div>
</body></html>`;
}

/** Chromium, headless, over the DevTools protocol: the page at its full height, as a PNG. */
async function screenshot(url: string, out: string, work: string): Promise<void> {
  const chromium = execa('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--remote-debugging-port=0', `--user-data-dir=${join(work, 'profile')}`, 'about:blank'], {
    reject: false,
  });
  try {
    const browserWs = await new Promise<string>((resolve, reject) => {
      let seen = '';
      chromium.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const found = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
        if (found) resolve(found[1]!);
      });
      void chromium.then((r) => reject(new Error(`chromium exited (${r.exitCode}): ${seen || r.stderr}`)));
    });
    const port = new URL(browserWs).port;
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.type === 'page');
    if (!target) throw new Error('chromium opened no page');
    const cdp = await devtools(target.webSocketDebuggerUrl);
    try {
      await cdp.send('Page.enable');
      await cdp.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: 600, deviceScaleFactor: 1, mobile: false });
      const loaded = cdp.once('Page.loadEventFired');
      await cdp.send('Page.navigate', { url });
      await loaded;
      const { result } = (await cdp.send('Runtime.evaluate', { expression: 'document.documentElement.scrollHeight', returnByValue: true })) as { result: { value: number } };
      await cdp.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: result.value, deviceScaleFactor: 1, mobile: false });
      const { data } = (await cdp.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
      await writeFile(out, Buffer.from(data, 'base64'));
    } finally {
      cdp.close();
    }
  } finally {
    chromium.kill('SIGTERM');
    await chromium;
  }
}

/** A minimal DevTools protocol client over Node's WebSocket. */
async function devtools(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const waiting = new Map<string, () => void>();
  ws.addEventListener('message', (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; method?: string; result?: unknown; error?: { message: string } };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) waiting.get(msg.method)?.();
  });
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    once: (method: string) => new Promise<void>((resolve) => waiting.set(method, resolve)),
    close: () => ws.close(),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`mail-png failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
