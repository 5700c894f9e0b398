/** Runs the real CLI (bin/backup-all → dist/) as a child process, as cron would, and collects what it printed. */
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import type { RigHandles } from './rig.js';
import type { SmtpSink } from '../rig/smtp.js';
import { RIG_PASSWORDS } from '../rig/index.js';

export const BIN = fileURLToPath(new URL('../../bin/backup-all', import.meta.url));
export const FIXTURE_BIN = fileURLToPath(new URL('../fixtures/bin', import.meta.url));

/** Secrets the tool is given in tests: none of them may appear in any output, row or mail. */
export const SMTP_PASSWORD = 'smtp-Secr3t!w';
export const TOOL_SECRETS = [RIG_PASSWORDS.admin, RIG_PASSWORDS.pg, RIG_PASSWORDS.maria, SMTP_PASSWORD, 'mongo-Secr3t!v'];

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout lines that are pino JSON log records. */
  logs: Record<string, unknown>[];
}

/** The environment of a run against the rig: its admin DB, a bucket in moto, the SMTP sink. */
export function toolEnv(rig: RigHandles, opts: { adminDb: string; bucket: string; smtp?: SmtpSink; extra?: Record<string, string> }): Record<string, string> {
  return {
    PATH: `${FIXTURE_BIN}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/root',
    TZ: process.env.TZ ?? 'UTC',
    SQLALCHEMY_ADMIN_URI: `postgresql+psycopg2://${rig.admin.adminUser}:${encodeURIComponent(RIG_PASSWORDS.admin)}@127.0.0.1:${rig.admin.port}/${opts.adminDb}`,
    AWS_BUCKET_NAME: `s3://${opts.bucket}/mydb`,
    AWS_ENDPOINT_URL_S3: rig.moto.endpoint,
    BACKUP_ALLOW_HTTP_ENDPOINT: 'true',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing-secret-key',
    AWS_DEFAULT_REGION: 'us-east-1',
    BACKUP_DB_HOST: '127.0.0.1',
    BACKUP_POSTGRES_PASSWORD: RIG_PASSWORDS.pg,
    BACKUP_MARIADB_PASSWORD: RIG_PASSWORDS.maria,
    BACKUP_MONGODB_PASSWORD: 'mongo-Secr3t!v',
    BACKUP_PROGRESS_INTERVAL: '1s',
    ...(opts.smtp
      ? {
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(opts.smtp.port),
          SMTP_USER: 'backup-bot',
          SMTP_PASSWORD,
          SMTP_FROM: 'MyDB backups <backup@example.test>',
          SUPPORT_ADMIN_EMAIL: 'dba@example.test, oncall@example.test',
        }
      : {}),
    ...opts.extra,
  };
}

export function startCli(args: string[], env: Record<string, string>): ResultPromise<{ reject: false; extendEnv: false; env: Record<string, string> }> {
  // '--' as bin/backup-all itself does: node would otherwise act on an --env-file among the tool's arguments.
  return execa(process.execPath, ['--', BIN, ...args], { env, extendEnv: false, reject: false });
}

export async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return collect(await startCli(args, env));
}

export function collect(result: { exitCode?: number; stdout?: unknown; stderr?: unknown }): CliResult {
  const stdout = String(result.stdout ?? '');
  const logs = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return { exitCode: result.exitCode ?? -1, stdout, stderr: String(result.stderr ?? ''), logs };
}

/** Fails with the place where a secret leaked. */
export function expectNoSecrets(where: string, text: string, secrets: readonly string[] = TOOL_SECRETS): void {
  for (const secret of secrets) {
    const variants = [secret, encodeURIComponent(secret)];
    for (const v of variants) {
      if (text.includes(v)) throw new Error(`secret '${secret.slice(0, 3)}…' leaked in ${where}: …${text.slice(Math.max(0, text.indexOf(v) - 80), text.indexOf(v) + 20)}…`);
    }
  }
}
