/** An in-process SMTP sink: accepts any mail (and any AUTH) on 127.0.0.1, parses it, keeps it in memory. */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { LOOPBACK } from './ports.js';
import { waitUntil } from './wait.js';

export interface SinkMessage {
  /** Header From, as text (e.g. `"Backups" <backup@example.test>`). */
  from: string;
  /** Envelope sender (MAIL FROM). */
  envelopeFrom: string | null;
  /** Envelope recipients (RCPT TO): every address the mail was delivered to, Bcc included. */
  to: string[];
  /** Header To, as text. */
  headerTo: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
  /** Credentials the client logged in with, when it did. */
  auth: { username: string; password: string } | null;
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: SinkMessage[];
  /** Resolves with all messages once at least n have arrived. */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  clear(): void;
  stop(): Promise<void>;
}

interface SessionUser {
  username: string;
  password: string;
}

export async function startSmtp(): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const user: SessionUser = { username: auth.username ?? '', password: auth.password ?? '' };
      callback(null, { user });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (mail) => {
            const envelopeFrom = session.envelope.mailFrom;
            messages.push({
              from: mail.from?.text ?? '',
              envelopeFrom: envelopeFrom ? envelopeFrom.address : null,
              to: session.envelope.rcptTo.map((r) => r.address),
              headerTo: [mail.to ?? []].flat().map((a) => a.text).join(', '),
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : '',
              raw,
              auth: (session.user as SessionUser | undefined) ?? null,
            });
            callback();
          },
          (e: Error) => callback(e),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    host: LOOPBACK,
    port,
    messages,
    waitForMessages: (n, timeoutMs = 10_000) =>
      waitUntil(() => messages.length >= n && [...messages], timeoutMs, `${n} mail(s) (got ${messages.length})`, 50),
    clear: () => void messages.splice(0),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
