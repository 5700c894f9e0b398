import nodemailer from 'nodemailer';
import type { Config } from '../config.js';
import type { MailContent } from './summary-mail.js';

export type SmtpSettings = NonNullable<Config['smtp']>;

export function createTransport(smtp: SmtpSettings) {
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTls,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
}

export async function sendMail(smtp: SmtpSettings, mail: MailContent): Promise<void> {
  const transport = createTransport(smtp);
  try {
    await transport.sendMail({ from: smtp.from, to: smtp.to, subject: mail.subject, text: mail.text, html: mail.html });
  } finally {
    transport.close();
  }
}
