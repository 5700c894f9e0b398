// Mail out: the run's summary, or that the run could not start. A mail that cannot go out is logged and becomes a run
// problem (exit 4), never a lost backup.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { RunSummary } from '../run/summary.js';
import type { Masker } from '../util/mask.js';
import { sendMail } from './email.js';
import { buildCouldNotStartMail, buildSummaryMail, type MailContent } from './summary-mail.js';
import { errorText } from '../errors.js';

type Io = { log: Logger; mask: Masker };

/** Sends the summary; a mail that cannot go out is logged and becomes a run problem (exit 4), never a lost backup. */
export async function mailSummary(config: Config, summary: RunSummary, io: Io): Promise<void> {
  const problem = await deliver(config, buildSummaryMail(summary, io.mask), io);
  if (problem) summary.problems.push(problem);
}

export async function mailCouldNotStart(config: Config, kind: string, reason: string, io: Io): Promise<void> {
  await deliver(config, buildCouldNotStartMail(kind, hostname(), reason, io.mask), io);
}

/** Sends one mail; returns what went wrong (already logged), or undefined when it went out. */
async function deliver(config: Config, mail: MailContent, io: Io): Promise<string | undefined> {
  if (!config.smtp) {
    io.log.warn('SMTP_HOST is not set: the summary is not mailed');
    return undefined;
  }
  try {
    await sendMail(config.smtp, mail);
    io.log.info({ to: config.smtp.to, subject: mail.subject }, 'mail sent');
    return undefined;
  } catch (err) {
    const message = io.mask(errorText(err));
    io.log.error({ err: message }, 'could not send the summary mail');
    return `summary mail not sent: ${message}`;
  }
}
