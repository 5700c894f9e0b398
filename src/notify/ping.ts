// Dead-man's switch, healthchecks.io style: `${url}/start` when a run starts, `${url}` when it succeeded,
// `${url}/fail` (with the summary as the body) when it did not. A monitor that hears nothing alerts by itself, so a
// run that never started or died half-way is noticed too. A ping that fails is logged and never fails the run.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { exitCodeOf, type RunSummary } from '../run/summary.js';
import { makeMasker } from '../util/mask.js';
import { buildSummaryMail } from './summary-mail.js';
import { errorText } from '../errors.js';

const TIMEOUT_MS = 10_000;
const RETRY_PAUSE_MS = 1000;
/** healthchecks.io keeps the first 100 kB of a ping body; the summary's head is what matters. */
const MAX_BODY_BYTES = 90_000;

async function ping(url: string, body: string | undefined, log: Logger, what: string): Promise<boolean> {
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    try {
      const response = await fetch(url, {
        method: 'POST',
        body: body ?? '',
        headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'mydb-backup' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        log.debug({ ping: what, status: response.status }, 'ping sent');
        return true;
      }
      log.warn({ ping: what, status: response.status, attempt }, 'ping refused');
    } catch (err) {
      // The URL is a secret (anyone holding it can report runs): the logger masks it.
      log.warn({ ping: what, attempt, err: errorText(err) }, 'ping failed');
    }
  }
  return false;
}

/** Pings `${BACKUP_PING_URL}/start`; nothing when the URL is not configured. */
export async function pingStart(config: Pick<Config, 'pingUrl'>, log: Logger): Promise<void> {
  if (!config.pingUrl) return;
  await ping(`${config.pingUrl}/start`, undefined, log, 'start');
}

/** Pings success (exit code 0) or `/fail` with the summary text (masked) as the body. */
export async function pingFinish(config: Pick<Config, 'pingUrl' | 'secrets'>, summary: RunSummary, log: Logger): Promise<void> {
  if (!config.pingUrl) return;
  const ok = exitCodeOf(summary) === 0;
  const mail = buildSummaryMail(summary, makeMasker(config.secrets));
  const text = Buffer.from(`${mail.subject}\n\n${mail.text}`, 'utf8').subarray(0, MAX_BODY_BYTES).toString('utf8');
  await ping(ok ? config.pingUrl : `${config.pingUrl}/fail`, text, log, ok ? 'success' : 'fail');
}
