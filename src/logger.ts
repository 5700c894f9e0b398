// pino JSON lines for cron's log file; human-readable when a person is watching a terminal. Every line passes
// through the one masker, and password-ish fields are redacted, so no secret reaches a log.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Masker } from './util/mask.js';

export type { Logger };

export function createLogger(opts: { level: string; mask: Masker; fd?: 1 | 2 }): Logger {
  const fd = opts.fd ?? 1;
  const isTty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  const destination = isTty
    ? pretty({ colorize: true, destination: fd, sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
    : pino.destination({ fd, sync: true });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', '*.password', 'secretEnv', '*.secretEnv', 'env', '*.env', 'configFile', '*.configFile'],
        censor: '***',
      },
      hooks: { streamWrite: (line: string) => opts.mask(line) },
    },
    destination,
  );
}
