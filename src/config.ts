// The single source of settings: the environment (an env file's settings added to it first: applyEnvFile), validated
// once by zod. Everything else receives the typed Config and trusts it.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ENGINES, perEngine, type EngineKey } from './engines/index.js';
import { compressionChoices, engineEnvNames } from './engines/settings.js';
import { DbUrlError, parseDbUrl } from './engines/url.js';
import { postgres } from './engines/postgres.js';
import { ConfigError, errorText } from './errors.js';
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

const text = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => v || fallback);

/** A value read by `parse`, whose Error becomes the setting's message. */
const parsedWith = <T>(parse: (value: string) => T, base = z.string()) =>
  base.transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: errorText(err) });
      return z.NEVER;
    }
  });

const compression = (fallback: string, choices: readonly [string, ...string[]]) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v))
    .pipe(z.enum(choices, { message: `expected one of ${choices.join(', ')}` }));

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
  let url;
  try {
    url = parseDbUrl(raw, [postgres]);
  } catch (err) {
    if (err instanceof DbUrlError && err.problem === 'scheme') throw new Error('must start with postgresql:// (or postgresql+psycopg2://)');
    throw err;
  }
  if (url.database === undefined) throw new Error('has no database name');
  return url.normalised;
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

/**
 * Each engine's settings (engines/settings.ts names them): its admin account, its compression, its verification
 * server. The server's URL: one of the engine's schemes (a driver suffix accepted), with a host, normalised to its
 * canonical scheme; its database part, if any, is only the maintenance database to connect to (PostgreSQL; default
 * postgres): scratch databases are created next to it.
 */
const engineSettingsSchema: z.ZodType<Record<string, unknown>, z.ZodTypeDef, unknown> = z.object(
  Object.fromEntries(
  ENGINES.flatMap((engine) => {
    const names = engineEnvNames(engine);
    return [
      [names.user, text(engine.settings.defaultUser)],
      [names.password, optionalText],
      [names.compress, compression(engine.settings.defaultCompression, compressionChoices(engine))],
      ...(names.verifyUrl ? [[names.verifyUrl, optionalText.pipe(parsedWith((v) => parseDbUrl(v, [engine]).normalised).optional())]] : []),
    ];
  }),
  ),
);

/** An engine's setting, as its schema above left it. */
function engineSetting(env: Record<string, unknown>, name: string | undefined): string | undefined {
  const value = name === undefined ? undefined : env[name];
  return typeof value === 'string' ? value : undefined;
}

const envObject = z
  .object({
    SQLALCHEMY_ADMIN_URI: parsedWith(normaliseAdminUri, z.string({ required_error: 'is required: the URL of the MyDB admin database' })),
    AWS_BUCKET_NAME: parsedWith(parseBucket, z.string({ required_error: 'is required: s3://bucket[/prefix]' })),
    BACKUP_S3_PREFIX: optionalText,
    AWS_DEFAULT_REGION: optionalText,
    AWS_REGION: optionalText,
    AWS_ENDPOINT_URL_S3: optionalText,
    AWS_ENDPOINT_URL: optionalText,
    // Read by the AWS SDK itself; here only to be masked.
    AWS_SECRET_ACCESS_KEY: z.string().optional(),
    AWS_SESSION_TOKEN: z.string().optional(),
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
    BACKUP_DB_HOST: text('localhost'),
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
  });

// Parsed side by side, so a bad setting of each is reported with the others.
const envSchema = z
  .intersection(envObject, engineSettingsSchema)
  .superRefine((env, ctx) => {
    if (env.BACKUP_SSE === 'aws:kms' && !env.BACKUP_SSE_KMS_KEY_ID) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['BACKUP_SSE_KMS_KEY_ID'],
        message: 'is required when BACKUP_SSE=aws:kms',
      });
    }
    if (env.SMTP_HOST && env.SUPPORT_ADMIN_EMAIL.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['SUPPORT_ADMIN_EMAIL'], message: 'is required when SMTP_HOST is set' });
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
  })
  .transform(toConfig);

/** The validated settings → what the rest of the tool reads (its type: Config). */
function toConfig(e: z.output<typeof envObject> & Record<string, unknown>) {
  const engineSettings = perEngine((engine) => {
    const names = engineEnvNames(engine);
    return {
      user: engineSetting(e, names.user) ?? engine.settings.defaultUser,
      password: engineSetting(e, names.password),
      compression: engineSetting(e, names.compress) ?? engine.settings.defaultCompression,
      verifyUrl: engineSetting(e, names.verifyUrl),
    };
  });
  const endpoint = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  const smtp = e.SMTP_HOST
    ? {
        host: e.SMTP_HOST,
        port: e.SMTP_PORT,
        secure: e.SMTP_SECURE,
        requireTls: e.SMTP_REQUIRE_TLS,
        ...(e.SMTP_USER ? { user: e.SMTP_USER } : {}),
        ...(e.SMTP_PASSWORD ? { password: e.SMTP_PASSWORD } : {}),
        from: e.SMTP_FROM ?? `mydb-backup <noreply@${e.BACKUP_DB_HOST}>`,
        to: e.SUPPORT_ADMIN_EMAIL,
      }
    : undefined;
  const sse: { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId: string } =
    e.BACKUP_SSE === 'aws:kms' ? { mode: 'aws:kms', kmsKeyId: e.BACKUP_SSE_KMS_KEY_ID ?? '' } : { mode: 'AES256' };
  const verifyUrls = Object.fromEntries(Object.entries(engineSettings).flatMap(([key, s]) => (s.verifyUrl ? [[key, s.verifyUrl]] : []))) as Partial<Record<EngineKey, string>>;
  const secrets = [
    urlPassword(e.SQLALCHEMY_ADMIN_URI),
    ...Object.values(engineSettings).flatMap((s) => [s.password, urlPassword(s.verifyUrl)]),
    e.SMTP_PASSWORD,
    e.AWS_SECRET_ACCESS_KEY,
    e.AWS_SESSION_TOKEN,
    // Whoever knows the ping URL can report a run: it stays out of logs like a password.
    e.BACKUP_PING_URL,
  ].filter((s): s is string => typeof s === 'string' && s.length >= 3);
  return {
    adminDbUrl: e.SQLALCHEMY_ADMIN_URI,
    s3: {
      bucket: e.AWS_BUCKET_NAME.bucket,
      prefix: (e.BACKUP_S3_PREFIX ?? e.AWS_BUCKET_NAME.prefix ?? 'mydb').replace(/^\/+|\/+$/g, ''),
      region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: endpoint ? e.BACKUP_S3_FORCE_PATH_STYLE : false,
      sse,
      checksum: e.BACKUP_S3_CHECKSUM,
      partSizeBytes: e.BACKUP_S3_PART_SIZE_MIB * 1024 * 1024,
      queueSize: e.BACKUP_S3_QUEUE_SIZE,
      maxParts: e.BACKUP_S3_MAX_PARTS,
      /** Ask S3 to refuse overwriting a key (If-None-Match: *) on every write: a second guard against collisions. */
      conditionalWrites: e.BACKUP_S3_CONDITIONAL_WRITES,
    },
    dbHost: e.BACKUP_DB_HOST,
    /** Each engine's admin account (BACKUP_{KEY}_USER / _PASSWORD). */
    credentials: perEngine((engine): { user: string; password?: string } => {
      const { user, password } = engineSettings[engine.key];
      return { user, ...(password ? { password } : {}) };
    }),
    /** Compression per engine (BACKUP_COMPRESS_{KEY}; --compress sets every engine's for a run). */
    compression: perEngine((engine) => engineSettings[engine.key].compression),
    ...(smtp ? { smtp } : {}),
    weeklyDay: e.BACKUP_WEEKLY_DAY,
    weeklySeparateRun: e.BACKUP_WEEKLY_SEPARATE_RUN,
    concurrency: e.BACKUP_CONCURRENCY,
    timeoutMs: e.BACKUP_TIMEOUT,
    stallTimeoutMs: e.BACKUP_STALL_TIMEOUT,
    progressIntervalMs: e.BACKUP_PROGRESS_INTERVAL,
    /** How long a run waits for a container another process is backing up (BACKUP_CLAIM_WAIT). */
    claimWaitMs: e.BACKUP_CLAIM_WAIT,
    /** Tests only (MYDB_TEST_CLOCK): the moment backups are named by, instead of the real time. */
    ...(e.MYDB_TEST_CLOCK ? { testClock: new Date(e.MYDB_TEST_CLOCK) } : {}),
    logLevel: e.LOG_LEVEL,
    /**
     * Test restores (`verify`, `restore --verify`, the nightly sample): the server of each engine scratch databases
     * are restored into (BACKUP_VERIFY_{KEY}_URL), and how many of a night's backups the nightly run verifies (0: none).
     */
    verify: { servers: verifyUrls, sample: e.BACKUP_VERIFY_SAMPLE },
    /**
     * Count rows per table at backup time (into the backup's manifest), for verifications to compare: PostgreSQL
     * counts in the dump's snapshot (one more read of each table), MariaDB and MongoDB in the dump stream.
     */
    countRows: e.BACKUP_ROW_COUNTS,
    /** What counts as a suspicious change of a backup's contents, unless a container's Info.labels say otherwise. */
    watch: {
      enabled: e.BACKUP_WATCH,
      rowsDrop: e.BACKUP_WATCH_ROWS_DROP,
      sizeDrop: e.BACKUP_WATCH_SIZE_DROP,
      empty: e.BACKUP_WATCH_EMPTY,
      minRows: e.BACKUP_WATCH_MIN_ROWS,
      minHistory: e.BACKUP_WATCH_MIN_HISTORY,
    } satisfies WatchSettings,
    /** Dead-man's switch (healthchecks.io style): pinged at the start (/start) and the end (/fail on failure). */
    ...(e.BACKUP_PING_URL ? { pingUrl: e.BACKUP_PING_URL } : {}),
    /** Every secret the tool knows: masked out of logs, rows, mails and error messages. */
    secrets,
  };
}

export type Config = z.output<typeof envSchema>;

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
    throw new ConfigError(`cannot read env file ${path}: ${errorText(err)}`);
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
  return parsed.data;
}

/** The password a URL holds, decoded. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  return parseDbUrl(url, ENGINES).conn.password;
}

export const WEEKDAY_NAMES = WEEKDAYS;
