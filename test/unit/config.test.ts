import { describe, expect, it } from 'vitest';
import { loadConfig, normaliseAdminUri, parseBucket } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const base = {
  SQLALCHEMY_ADMIN_URI: 'postgresql+psycopg2://admin:s3cret@db.example:5432/mydb_admin',
  AWS_BUCKET_NAME: 's3://my-backups/nightly',
};

const errorOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('accepts SQLAlchemy-style URLs and s3://bucket/prefix', () => {
    const config = loadConfig(base);
    expect(config.adminDbUrl).toBe('postgresql://admin:s3cret@db.example:5432/mydb_admin');
    expect(config.s3).toMatchObject({ bucket: 'my-backups', prefix: 'nightly', sse: { mode: 'AES256' }, maxParts: 10000 });
    expect(config.secrets).toContain('s3cret');
    expect(config.concurrency).toBe(2);
    expect(config.weeklyDay).toBe(6);
  });

  it('defaults the prefix to mydb', () => {
    expect(loadConfig({ ...base, AWS_BUCKET_NAME: 'my-backups' }).s3.prefix).toBe('mydb');
  });

  it.each([
    [{ SQLALCHEMY_ADMIN_URI: undefined }, 'SQLALCHEMY_ADMIN_URI is required'],
    [{ SQLALCHEMY_ADMIN_URI: 'mysql://x@y/z' }, 'SQLALCHEMY_ADMIN_URI must start with postgresql://'],
    [{ SQLALCHEMY_ADMIN_URI: 'postgresql://u@host' }, 'SQLALCHEMY_ADMIN_URI has no database name'],
    [{ AWS_BUCKET_NAME: 's3://Bad_Bucket' }, "AWS_BUCKET_NAME 'Bad_Bucket' is not a valid S3 bucket name"],
    [{ BACKUP_SSE: 'aws:kms' }, 'BACKUP_SSE_KMS_KEY_ID is required when BACKUP_SSE=aws:kms'],
    [{ BACKUP_SSE: 'none' }, 'BACKUP_SSE expected AES256 or aws:kms'],
    [{ BACKUP_CONCURRENCY: 'many' }, "BACKUP_CONCURRENCY expected a whole number from 1 to 64, got 'many'"],
    [{ BACKUP_S3_PART_SIZE_MIB: '1' }, 'BACKUP_S3_PART_SIZE_MIB expected a whole number from 5'],
    [{ BACKUP_STALL_TIMEOUT: 'soon' }, "BACKUP_STALL_TIMEOUT expected a duration such as 90, 30s, 10m or 6h, got 'soon'"],
    [{ BACKUP_WEEKLY_DAY: 'Caturday' }, 'BACKUP_WEEKLY_DAY expected a weekday name'],
    [{ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' }, 'AWS_ENDPOINT_URL_S3 is plain http: backups must travel over TLS'],
    [{ SMTP_HOST: 'mail' }, 'SUPPORT_ADMIN_EMAIL is required when SMTP_HOST is set'],
    [{ SMTP_HOST: 'mail', SUPPORT_ADMIN_EMAIL: 'ops@x, nope' }, 'SUPPORT_ADMIN_EMAIL not an e-mail address: nope'],
  ])('%j → a message naming the variable', (override, message) => {
    const env = { ...base, ...override } as Record<string, string>;
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    expect(errorOf(env)).toContain(message);
  });

  it('compresses every engine with zstd by default; PostgreSQL also takes pgdump (pg_dump -Fc\'s own zlib)', () => {
    expect(loadConfig(base).compression).toEqual({ postgres: 'zstd', mariadb: 'zstd', mongodb: 'zstd' });
    for (const value of ['zstd', 'gzip', 'none', 'pgdump', ' PGDUMP ']) {
      expect(loadConfig({ ...base, BACKUP_COMPRESS_POSTGRES: value }).compression.postgres).toBe(value.trim().toLowerCase());
    }
    expect(errorOf({ ...base, BACKUP_COMPRESS_POSTGRES: 'lz4' })).toContain('BACKUP_COMPRESS_POSTGRES expected one of none, gzip, zstd, pgdump');
    expect(errorOf({ ...base, BACKUP_COMPRESS_MARIADB: 'pgdump' })).toContain('BACKUP_COMPRESS_MARIADB expected one of none, gzip, zstd');
  });

  it('lists every bad variable at once and never prints the admin password', () => {
    // An engine's setting too (they come from ENGINES).
    const message = errorOf({ ...base, BACKUP_CONCURRENCY: '0', BACKUP_SSE: 'x', BACKUP_COMPRESS_MARIADB: 'lz4' });
    expect(message).toContain('BACKUP_CONCURRENCY');
    expect(message).toContain('BACKUP_SSE');
    expect(message).toContain('BACKUP_COMPRESS_MARIADB');
    expect(message).not.toContain('s3cret');
  });

  it('allows http endpoints only when told to, and weekday names', () => {
    const config = loadConfig({ ...base, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', BACKUP_ALLOW_HTTP_ENDPOINT: 'true', BACKUP_WEEKLY_DAY: 'sun' });
    expect(config.s3.endpoint).toBe('http://127.0.0.1:9000');
    expect(config.s3.forcePathStyle).toBe(true);
    expect(config.weeklyDay).toBe(0);
  });

  it('normalises URIs and parses buckets', () => {
    expect(normaliseAdminUri('postgres://a:b@h/db')).toBe('postgresql://a:b@h/db');
    expect(parseBucket('bucket-1')).toEqual({ bucket: 'bucket-1' });
  });
});
