// The single source of settings: the environment (an env file's settings added to it first: applyEnvFile), validated
// once by zod. Everything else receives the typed Config and trusts it.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { parseDuration } from './util/duration.js';
import { parseWatchSetting, WATCH_DEFAULTS, type WatchSettings } from './watch/settings.js';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected true or false, got '${v}'` });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a whole number from ${min} to ${max}, got '${v}'` });
        return z.NEVER;
      }
      return n;
    });

const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const parsed = parseDuration(v === undefined || v === '' ? fallback : v);
      if (parsed === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a duration such as 90, 30s, 10m or 6h, got '${v}'` });
        return z.NEVER;
      }
      return parsed;
    });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const compression = <const T extends readonly [string, ...string[]]>(fallback: T[number], choices: T) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v))
    .pipe(z.enum(choices, { message: `expected one of ${choices.join(', ')}` }));
const STREAM_COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;

/** A BACKUP_WATCH_* setting: parsed as the same setting in a container's Info.labels is (watch/settings.ts). */
const watchSetting = <K extends keyof WatchSettings>(key: K) =>
  z
    .string()
    .optional()
    .transform((v, ctx): WatchSettings[K] => {
      if (v === undefined || v.trim() === '') return WATCH_DEFAULTS[key];
      const parsed = parseWatchSetting(key, v);
      if ('error' in parsed) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
        return z.NEVER;
      }
      return parsed.value;
    });

/** Accepts SQLAlchemy-style URLs (postgresql+psycopg2://) and plain postgres:// ones; returns a libpq URL. */
export function normaliseAdminUri(raw: string): string {
  const match = /^(postgres(?:ql)?)(\+[a-z0-9_]+)?:\/\//i.exec(raw.trim());
  if (!match) throw new Error("must start with postgresql:// (or postgresql+psycopg2://)");
  const url = new URL(`postgresql://${raw.trim().slice(match[0].length)}`);
  if (!url.hostname && !url.searchParams.get('host')) throw new Error('has no host');
  if (url.pathname.length <= 1) throw new Error('has no database name');
  return url.toString();
}

/**
 * A verification server's URL: postgres[ql]:// (SQLAlchemy driver suffixes accepted) or mariadb:// / mysql://, with a
 * host; returns it normalised (postgresql:// or mariadb://). The database part, if any, is only the maintenance
 * database to connect to (PostgreSQL; default postgres): scratch databases are created next to it.
 */
export function normaliseServerUrl(raw: string, engine: 'postgres' | 'mariadb'): string {
  const schemes = engine === 'postgres' ? /^(postgres(?:ql)?)(\+[a-z0-9_]+)?:\/\//i : /^(mariadb|mysql)(\+[a-z0-9_]+)?:\/\//i;
  const match = schemes.exec(raw.trim());
  if (!match) throw new Error(engine === 'postgres' ? 'must start with postgresql://' : 'must start with mariadb:// (or mysql://)');
  const url = new URL(`${engine === 'postgres' ? 'postgresql' : 'mariadb'}://${raw.trim().slice(match[0].length)}`);
  if (!url.hostname) throw new Error('has no host');
  return url.toString();
}

/** `s3://bucket/prefix`, `bucket/prefix` or `bucket` → bucket and optional prefix. */
export function parseBucket(raw: string): { bucket: string; prefix?: string } {
  const trimmed = raw.trim().replace(/^s3:\/\//i, '');
  const [bucket = '', ...rest] = trimmed.split('/');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`'${bucket}' is not a valid S3 bucket name`);
  }
  const prefix = rest.join('/').replace(/^\/+|\/+$/g, '');
  return prefix ? { bucket, prefix } : { bucket };
}

const envSchema = z
  .object({
    SQLALCHEMY_ADMIN_URI: z
      .string({ required_error: 'is required: the URL of the MyDB admin database' })
      .transform((v, ctx) => {
        try {
          return normaliseAdminUri(v);
        } catch (err) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
          return z.NEVER;
        }
      }),
    AWS_BUCKET_NAME: z
      .string({ required_error: 'is required: s3://bucket[/prefix]' })
      .transform((v, ctx) => {
        try {
          return parseBucket(v);
        } catch (err) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
          return z.NEVER;
        }
      }),
    BACKUP_S3_PREFIX: optionalText,
    AWS_DEFAULT_REGION: optionalText,
    AWS_REGION: optionalText,
    AWS_ENDPOINT_URL_S3: optionalText,
    AWS_ENDPOINT_URL: optionalText,
    BACKUP_ALLOW_HTTP_ENDPOINT: bool(false),
    BACKUP_S3_FORCE_PATH_STYLE: bool(true),
    BACKUP_SSE: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'AES256' : v))
      .pipe(z.enum(['AES256', 'aws:kms'], { message: "expected AES256 or aws:kms" })),
    BACKUP_SSE_KMS_KEY_ID: optionalText,
    BACKUP_S3_CHECKSUM: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'WHEN_SUPPORTED' : v.toUpperCase()))
      .pipe(z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED'], { message: 'expected WHEN_SUPPORTED or WHEN_REQUIRED' })),
    BACKUP_S3_PART_SIZE_MIB: int(8, 5, 5 * 1024),
    BACKUP_S3_QUEUE_SIZE: int(4, 1, 64),
    BACKUP_S3_MAX_PARTS: int(10_000, 2, 10_000),
    BACKUP_S3_CONDITIONAL_WRITES: bool(true),
    BACKUP_DB_HOST: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'localhost' : v)),
    BACKUP_POSTGRES_USER: z.string().trim().optional().transform((v) => v || 'pgdba'),
    BACKUP_POSTGRES_PASSWORD: optionalText,
    BACKUP_MARIADB_USER: z.string().trim().optional().transform((v) => v || 'root'),
    BACKUP_MARIADB_PASSWORD: optionalText,
    BACKUP_MONGODB_USER: z.string().trim().optional().transform((v) => v || 'dbaas'),
    BACKUP_MONGODB_PASSWORD: optionalText,
    // zstd: faster than no compression (fewer bytes to send) and far cheaper than gzip (the figures: BENCHMARKS.md).
    BACKUP_COMPRESS_MARIADB: compression('zstd', STREAM_COMPRESSIONS),
    BACKUP_COMPRESS_MONGODB: compression('zstd', STREAM_COMPRESSIONS),
    // PostgreSQL: pg_dump -Fc -Z0 through zstd stores about as much as pg_dump's own zlib at a fraction of its CPU
    // (BENCHMARKS.md); 'pgdump' keeps pg_dump -Fc's zlib and a plain .dump.
    BACKUP_COMPRESS_POSTGRES: compression('zstd', [...STREAM_COMPRESSIONS, 'pgdump'] as const),
    SMTP_HOST: optionalText,
    SMTP_PORT: int(25, 1, 65535),
    SMTP_SECURE: bool(false),
    SMTP_REQUIRE_TLS: bool(false),
    SMTP_USER: optionalText,
    SMTP_PASSWORD: optionalText,
    SMTP_FROM: optionalText,
    SUPPORT_ADMIN_EMAIL: optionalText.transform((v, ctx) => {
      const list = (v ?? '').split(/[,;\s]+/).filter(Boolean);
      const bad = list.filter((a) => !/^[^@\s]+@[^@\s]+$/.test(a));
      if (bad.length) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not an e-mail address: ${bad.join(', ')}` });
        return z.NEVER;
      }
      return list;
    }),
    BACKUP_WEEKLY_DAY: z
      .string()
      .trim()
      .toLowerCase()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === '') return 6;
        const byName = WEEKDAYS.findIndex((d) => d === v || d.slice(0, 3) === v);
        if (byName >= 0) return byName;
        if (/^[0-6]$/.test(v)) return Number(v);
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a weekday name (e.g. Saturday) or 0-6, got '${v}'` });
        return z.NEVER;
      }),
    BACKUP_WEEKLY_SEPARATE_RUN: bool(false),
    BACKUP_CONCURRENCY: int(2, 1, 64),
    BACKUP_TIMEOUT: duration('12h'),
    BACKUP_STALL_TIMEOUT: duration('10m'),
    BACKUP_PROGRESS_INTERVAL: duration('30s'),
    BACKUP_CLAIM_WAIT: duration('15m'),
    // For tests only: the moment every backup of the run is named by (a clock that repeats, jumps, or stands still).
    MYDB_TEST_CLOCK: optionalText.pipe(z.string().datetime({ offset: true, message: 'expected an ISO 8601 time' }).optional()),
    BACKUP_VERIFY_POSTGRES_URL: optionalText.transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return normaliseServerUrl(v, 'postgres');
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
        return z.NEVER;
      }
    }),
    BACKUP_VERIFY_MARIADB_URL: optionalText.transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return normaliseServerUrl(v, 'mariadb');
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
        return z.NEVER;
      }
    }),
    BACKUP_VERIFY_SAMPLE: int(0, 0, 1000),
    BACKUP_ROW_COUNTS: bool(true),
    BACKUP_WATCH: watchSetting('enabled'),
    BACKUP_WATCH_ROWS_DROP: watchSetting('rowsDrop'),
    BACKUP_WATCH_SIZE_DROP: watchSetting('sizeDrop'),
    BACKUP_WATCH_EMPTY: watchSetting('empty'),
    BACKUP_WATCH_MIN_ROWS: watchSetting('minRows'),
    BACKUP_WATCH_MIN_HISTORY: watchSetting('minHistory'),
    BACKUP_PING_URL: optionalText.transform((v, ctx) => {
      if (v === undefined) return undefined;
      let url: URL;
      try {
        url = new URL(v.trim());
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `'${v}' is not a URL` });
        return z.NEVER;
      }
      if (!['http:', 'https:'].includes(url.protocol)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an https:// (or http://) URL' });
        return z.NEVER;
      }
      return url.toString().replace(/\/+$/, '');
    }),
    LOG_LEVEL: z
      .string()
      .trim()
      .toLowerCase()
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'info' : v))
      .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { message: 'expected error, warn, info or debug' })),
  })
  .superRefine((env, ctx) => {
    if (env.BACKUP_SSE === 'aws:kms' && !env.BACKUP_SSE_KMS_KEY_ID) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['BACKUP_SSE_KMS_KEY_ID'],
        message: 'is required when BACKUP_SSE=aws:kms',
      });
    }
    const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
    if (endpoint) {
      const name = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
      let url: URL | undefined;
      try {
        url = new URL(endpoint);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `'${endpoint}' is not a URL` });
      }
      if (url && url.protocol === 'http:' && !env.BACKUP_ALLOW_HTTP_ENDPOINT) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [name],
          message: 'is plain http: backups must travel over TLS (set BACKUP_ALLOW_HTTP_ENDPOINT=true only for local testing)',
        });
      } else if (url && !['http:', 'https:'].includes(url.protocol)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'must be an https:// URL' });
      }
    }
  });

/** A stream compression the pipeline applies (and restore undoes) by the object name's suffix. */
export type Compression = 'none' | 'gzip' | 'zstd';
/** PostgreSQL's setting: a stream compression of `pg_dump -Fc -Z0`, or 'pgdump': pg_dump's own zlib, a plain `.dump`. */
export type PostgresCompression = Compression | 'pgdump';

export interface Config {
  adminDbUrl: string;
  s3: {
    bucket: string;
    prefix: string;
    region: string;
    endpoint?: string;
    forcePathStyle: boolean;
    sse: { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId: string };
    checksum: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
    partSizeBytes: number;
    queueSize: number;
    maxParts: number;
    /** Ask S3 to refuse overwriting a key (If-None-Match: *) on every write: a second guard against collisions. */
    conditionalWrites: boolean;
  };
  dbHost: string;
  credentials: {
    postgres: { user: string; password?: string };
    mariadb: { user: string; password?: string };
    mongodb: { user: string; password?: string };
  };
  /** Compression per engine (BACKUP_COMPRESS_*; --compress sets all three for a run). */
  compression: { postgres: PostgresCompression; mariadb: Compression; mongodb: Compression };
  smtp?: {
    host: string;
    port: number;
    secure: boolean;
    requireTls: boolean;
    user?: string;
    password?: string;
    from: string;
    to: string[];
  };
  weeklyDay: number;
  weeklySeparateRun: boolean;
  concurrency: number;
  timeoutMs: number;
  stallTimeoutMs: number;
  progressIntervalMs: number;
  /** How long a run waits for a container another process is backing up (BACKUP_CLAIM_WAIT). */
  claimWaitMs: number;
  /** Tests only (MYDB_TEST_CLOCK): the moment backups are named by, instead of the real time. */
  testClock?: Date;
  logLevel: string;
  /**
   * Test restores (`verify`, `restore --verify`, the nightly sample): the servers scratch databases are restored
   * into, per engine, and how many of a night's backups the nightly run verifies (0: none).
   */
  verify: { postgresUrl?: string; mariadbUrl?: string; sample: number };
  /**
   * Count rows per table at backup time (into the backup's manifest), for verifications to compare: PostgreSQL
   * counts in the dump's snapshot (one more read of each table), MariaDB and MongoDB in the dump stream.
   */
  countRows: boolean;
  /** What counts as a suspicious change of a backup's contents, unless a container's Info.labels say otherwise. */
  watch: WatchSettings;
  /** Dead-man's switch (healthchecks.io style): pinged at the start (/start) and the end (/fail on failure). */
  pingUrl?: string;
  /** Every secret the tool knows: masked out of logs, rows, mails and error messages. */
  secrets: string[];
}

// The env file: dotenv syntax as Node's `--env-file` reads it (util.parseEnv reads each value), limited to lines that
// Node and the dotenv package both read literally. Both cut KEY=abc#def to abc without a word and they differ on
// backslashes: such a line is an error naming it instead. The rules for operators: README, "The env file".
const ENV_FILE_SETTING = /^ *(?:export )?([A-Za-z_][A-Za-z0-9_]*) *=(.*)$/;
const ENV_FILE_BLANK_OR_COMMENT = /^[ \t]*(?:#.*)?$/;

/** Why the text after `KEY=` cannot be read unambiguously; undefined when it can. */
function envFileValueProblem(raw: string): string | undefined {
  const text = raw.replace(/^ +/, '');
  const quote = text[0];
  if (quote === "'" || quote === '"' || quote === '`') {
    const end = text.indexOf(quote, 1);
    if (end < 0) return `the value's opening ${quote} has no closing ${quote} on the same line`;
    // First: for "a\"b" the closing quote found is the escaped one.
    if (quote === '"' && text.slice(1, end).includes('\\')) return 'a backslash inside "…" is read differently by different tools: quote the value with \'…\' or `…` instead';
    if (!ENV_FILE_BLANK_OR_COMMENT.test(text.slice(end + 1))) return 'text follows the closing quote: put the whole value inside the quotes';
    return undefined;
  }
  // Unquoted: a # after a space starts a comment; spaces around the value are dropped.
  const value = raw.replace(/ +#.*$/, '').replace(/^ +| +$/g, '');
  if (/[\x00-\x1f\x7f]/.test(value)) return 'a tab or other control character must be inside quotes';
  if (value.includes('#')) return 'a # inside a value must be quoted';
  if (/["'`\\]/.test(value)) return 'a value holding a quote or a backslash must be quoted';
  return undefined;
}

/** The settings of an env file's text; a line that is not read exactly as written is a ConfigError naming it. */
export function parseEnvFile(text: string, source: string): Record<string, string> {
  const settings: Record<string, string> = {};
  const lineOf = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, index) => {
    const where = `${source}, line ${index + 1}`;
    if (ENV_FILE_BLANK_OR_COMMENT.test(line)) return;
    const match = ENV_FILE_SETTING.exec(line);
    if (!match) throw new ConfigError(`${where} is not KEY=value (a name of letters, digits and _), a # comment or blank`);
    const key = match[1]!;
    const problem = envFileValueProblem(match[2]!);
    if (problem) throw new ConfigError(`${where} (${key}): ${problem}`);
    const first = lineOf.get(key);
    if (first !== undefined) throw new ConfigError(`${where} sets ${key} again (first on line ${first})`);
    const value = parseEnv(line)[key];
    // The checks above keep to what the parser reads literally; if a Node release reads a line differently, say so.
    if (value === undefined) throw new ConfigError(`${where} (${key}) could not be read by this Node.js release's parser`);
    settings[key] = value;
    lineOf.set(key, index + 1);
  });
  return settings;
}

/** The settings of the env file at `path` (the cron `backup_env`). */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read env file ${path}: ${(err as Error).message}`);
  }
  return parseEnvFile(text, `env file ${path}`);
}

/**
 * Adds the env file's settings to the environment, where the environment has no such variable (it wins over the
 * file). Into the environment itself, not a copy: TZ (local time of backup ids, the weekly day) and the AWS SDK's
 * default credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...) read process.env.
 */
export function applyEnvFile(path: string, env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(readEnvFile(path))) {
    if (env[key] === undefined) env[key] = value;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'} ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const adminPassword = decodeURIComponent(new URL(e.SQLALCHEMY_ADMIN_URI).password || '');
  const smtpTo = e.SUPPORT_ADMIN_EMAIL;
  let smtp: Config['smtp'];
  if (e.SMTP_HOST) {
    if (smtpTo.length === 0) throw new ConfigError('invalid configuration:\n  SUPPORT_ADMIN_EMAIL is required when SMTP_HOST is set');
    smtp = {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      requireTls: e.SMTP_REQUIRE_TLS,
      ...(e.SMTP_USER ? { user: e.SMTP_USER } : {}),
      ...(e.SMTP_PASSWORD ? { password: e.SMTP_PASSWORD } : {}),
      from: e.SMTP_FROM ?? `mydb-backup <noreply@${e.BACKUP_DB_HOST}>`,
      to: smtpTo,
    };
  }
  const secrets = [
    adminPassword,
    e.BACKUP_POSTGRES_PASSWORD,
    e.BACKUP_MARIADB_PASSWORD,
    e.BACKUP_MONGODB_PASSWORD,
    e.SMTP_PASSWORD,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    urlPassword(e.BACKUP_VERIFY_POSTGRES_URL),
    urlPassword(e.BACKUP_VERIFY_MARIADB_URL),
    // Whoever knows the ping URL can report a run: it stays out of logs like a password.
    e.BACKUP_PING_URL,
  ].filter((s): s is string => typeof s === 'string' && s.length >= 3);
  const endpoint = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  return {
    adminDbUrl: e.SQLALCHEMY_ADMIN_URI,
    s3: {
      bucket: e.AWS_BUCKET_NAME.bucket,
      prefix: (e.BACKUP_S3_PREFIX ?? e.AWS_BUCKET_NAME.prefix ?? 'mydb').replace(/^\/+|\/+$/g, ''),
      region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: endpoint ? e.BACKUP_S3_FORCE_PATH_STYLE : false,
      sse:
        e.BACKUP_SSE === 'aws:kms'
          ? { mode: 'aws:kms', kmsKeyId: e.BACKUP_SSE_KMS_KEY_ID ?? '' }
          : { mode: 'AES256' },
      checksum: e.BACKUP_S3_CHECKSUM,
      partSizeBytes: e.BACKUP_S3_PART_SIZE_MIB * 1024 * 1024,
      queueSize: e.BACKUP_S3_QUEUE_SIZE,
      maxParts: e.BACKUP_S3_MAX_PARTS,
      conditionalWrites: e.BACKUP_S3_CONDITIONAL_WRITES,
    },
    dbHost: e.BACKUP_DB_HOST,
    credentials: {
      postgres: { user: e.BACKUP_POSTGRES_USER, ...(e.BACKUP_POSTGRES_PASSWORD ? { password: e.BACKUP_POSTGRES_PASSWORD } : {}) },
      mariadb: { user: e.BACKUP_MARIADB_USER, ...(e.BACKUP_MARIADB_PASSWORD ? { password: e.BACKUP_MARIADB_PASSWORD } : {}) },
      mongodb: { user: e.BACKUP_MONGODB_USER, ...(e.BACKUP_MONGODB_PASSWORD ? { password: e.BACKUP_MONGODB_PASSWORD } : {}) },
    },
    compression: { postgres: e.BACKUP_COMPRESS_POSTGRES, mariadb: e.BACKUP_COMPRESS_MARIADB, mongodb: e.BACKUP_COMPRESS_MONGODB },
    ...(smtp ? { smtp } : {}),
    weeklyDay: e.BACKUP_WEEKLY_DAY,
    weeklySeparateRun: e.BACKUP_WEEKLY_SEPARATE_RUN,
    concurrency: e.BACKUP_CONCURRENCY,
    timeoutMs: e.BACKUP_TIMEOUT,
    stallTimeoutMs: e.BACKUP_STALL_TIMEOUT,
    progressIntervalMs: e.BACKUP_PROGRESS_INTERVAL,
    claimWaitMs: e.BACKUP_CLAIM_WAIT,
    ...(e.MYDB_TEST_CLOCK ? { testClock: new Date(e.MYDB_TEST_CLOCK) } : {}),
    logLevel: e.LOG_LEVEL,
    verify: {
      ...(e.BACKUP_VERIFY_POSTGRES_URL ? { postgresUrl: e.BACKUP_VERIFY_POSTGRES_URL } : {}),
      ...(e.BACKUP_VERIFY_MARIADB_URL ? { mariadbUrl: e.BACKUP_VERIFY_MARIADB_URL } : {}),
      sample: e.BACKUP_VERIFY_SAMPLE,
    },
    countRows: e.BACKUP_ROW_COUNTS,
    watch: {
      enabled: e.BACKUP_WATCH,
      rowsDrop: e.BACKUP_WATCH_ROWS_DROP,
      sizeDrop: e.BACKUP_WATCH_SIZE_DROP,
      empty: e.BACKUP_WATCH_EMPTY,
      minRows: e.BACKUP_WATCH_MIN_ROWS,
      minHistory: e.BACKUP_WATCH_MIN_HISTORY,
    },
    ...(e.BACKUP_PING_URL ? { pingUrl: e.BACKUP_PING_URL } : {}),
    secrets,
  };
}

function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const password = new URL(url).password;
  return password ? decodeURIComponent(password) : undefined;
}

export const WEEKDAY_NAMES = WEEKDAYS;
