/** Smoke test of the rig: every server answers, the seeds are there, and private servers stop and start. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminDbName, containerSecret, createAdminDb } from './helpers/admin-db.js';
import { getRig } from './helpers/rig.js';
import {
  createBucket,
  getObjectBuffer,
  headObject,
  listKeys,
  listMultipartUploads,
  mariaFingerprint,
  mariaHandle,
  mariaObjects,
  pgObjects,
  s3Client,
  scratchDir,
  startMariadb,
  startMoto,
  startPostgres,
  startSmtp,
  tableFingerprint,
  uniqueBucketName,
  withPgClient,
  type SmtpSink,
} from './rig/index.js';

const rig = getRig();

describe('admin PostgreSQL', () => {
  it('creates an admin DB with the 4 tables and the seeded containers', async () => {
    const url = await createAdminDb(rig.admin, adminDbName('rig_smoke'), [
      { name: 'alpha', engine: 'Postgres', port: rig.pgA.port },
      { name: 'beta', engine: 'Postgres', port: String(rig.pgB.port), freq: 'weekly', freqKey: 'BACKUP_FREQ' },
      { name: 'gamma', engine: 'MariaDB', port: rig.maria.port, freq: 'Daily', freqKey: 'labels' },
      { name: 'old', engine: 'Postgres', port: 32099, state: null },
      { name: 'stopped', engine: 'MongoDB', port: 32098, state: 'exited' },
      { name: 'broken', engine: 'Postgres', port: null, rawData: 'not an object' },
    ]);
    await withPgClient(url, async (c) => {
      const tables = await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
      expect(tables.rows.map((r) => r.table_name)).toEqual(['action_log', 'backups', 'container_state', 'containers']);
      const active = await c.query(`
        SELECT c.name, c.data->'Info' AS info FROM containers c JOIN container_state s ON s.c_id = c.id
        WHERE s.state = 'running' ORDER BY c.id`);
      expect(active.rows.map((r) => r.name)).toEqual(['alpha', 'beta', 'gamma', 'broken']);
      const [alpha, beta, gamma, broken] = active.rows;
      expect(alpha.info).toMatchObject({ Name: 'alpha', dbengine: 'Postgres', Port: rig.pgA.port, backup_freq: 'Daily' });
      expect(alpha.info.env.POSTGRES_PASSWORD).toBe(containerSecret('alpha'));
      expect(beta.info).toMatchObject({ Port: String(rig.pgB.port), BACKUP_FREQ: 'weekly' });
      expect(gamma.info.labels.backup_freq).toBe('Daily');
      expect(gamma.info.env.MARIADB_ROOT_PASSWORD).toBe(containerSecret('gamma'));
      expect(broken.info).toBeNull();
      const ts = await c.query(`SELECT ts FROM containers ORDER BY id LIMIT 1`);
      expect(ts.rows[0].ts).toBeInstanceOf(Date);
    });
  });
});

describe('container PostgreSQL servers', () => {
  it('pgA holds shop and blog; pgB holds inventory', async () => {
    const dbs = async (pg: typeof rig.pgA) =>
      (await pg.query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1'))
        .map((r) => r.datname);
    expect(await dbs(rig.pgA)).toEqual(['blog', 'postgres', 'shop']);
    expect(await dbs(rig.pgB)).toEqual(['inventory', 'postgres']);
  });

  it('fingerprints cover every schema and are stable', async () => {
    const shop = await tableFingerprint(rig.pgA, 'shop');
    expect(shop.map((t) => [t.table, t.count])).toEqual([['public.customers', 1000], ['public.orders', 3000]]);
    expect(await tableFingerprint(rig.pgA.url('shop'))).toEqual(shop);
    const blog = await tableFingerprint(rig.pgA, 'blog');
    expect(blog.map((t) => t.table)).toEqual(['archive.old_posts', 'public.posts']);
    expect(blog.every((t) => /^[0-9a-f]{32}$/.test(t.md5 ?? ''))).toBe(true);
    expect(await pgObjects(rig.pgA, 'shop')).toEqual(
      expect.arrayContaining(['view public.customer_totals', 'sequence public.invoice_no_seq = 102999']),
    );
    const unicode = await rig.pgA.query('shop', `SELECT name FROM customers WHERE name LIKE '山田%' LIMIT 1`);
    expect(unicode[0]?.name).toMatch(/^山田 太郎 #\d+$/);
  });

  it('refuses a wrong password over TCP', async () => {
    await expect(withPgClient({ ...rig.pgA, host: '127.0.0.1', user: 'pgdba', password: 'nope', database: 'postgres' }, async () => {}))
      .rejects.toThrow(/password authentication failed/);
  });
});

describe('MariaDB', () => {
  it('answers root with the password over TCP, and has crm and wiki', async () => {
    expect(await rig.maria.query('SELECT CURRENT_USER(), @@character_set_server')).toEqual([['root@127.0.0.1', 'utf8mb4']]);
    const crm = await mariaFingerprint(rig.maria, 'crm');
    expect(crm.map((t) => [t.table, t.count])).toEqual([['contacts', 500], ['deals', 1000]]);
    expect(await mariaFingerprint(rig.maria, 'crm')).toEqual(crm);
    expect(await mariaObjects(rig.maria, 'crm')).toEqual(['function with_vat', 'procedure contact_summary', 'trigger deals_total_ai']);
    expect(await rig.maria.query('CALL contact_summary(1)', 'crm')).toEqual([[expect.stringMatching(/ #1$/), expect.any(String)]]);
    const [[name, notes]] = (await rig.maria.query(`SELECT name, notes FROM contacts WHERE id = 1`, 'crm')) as [[string, string]];
    expect(name).toBe('Łukasz #1');
    expect(notes).toContain("\n\ttab, 'quote', \\ backslash");
    expect(await rig.maria.query('SELECT NULL, 1')).toEqual([[null, '1']]);
  });

  it('refuses a wrong password', async () => {
    await expect(mariaHandle({ ...rig.maria, rootPassword: 'nope' }).query('SELECT 1')).rejects.toThrow(/Access denied/);
  });
});

describe('moto S3', () => {
  const s3 = s3Client(rig.moto.endpoint);
  const bucket = uniqueBucketName('rig-smoke');
  beforeAll(() => createBucket(s3, bucket));

  it('does a multipart upload with SSE AES256', async () => {
    const key = 'mydb/alpha/2025-01-01_02:00:00/alpha_shop.dump';
    const parts = [Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.from('tail')];
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ServerSideEncryption: 'AES256' }),
    );
    const etags = await Promise.all(
      parts.map(async (Body, i) => {
        const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }));
        return { ETag, PartNumber: i + 1 };
      }),
    );
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags } }));
    const head = await headObject(s3, bucket, key);
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(head.ContentLength).toBe(5 * 1024 * 1024 + 4);
    expect(await listKeys(s3, bucket, 'mydb/alpha/')).toEqual([key]);
    expect((await getObjectBuffer(s3, bucket, key)).subarray(-4).toString()).toBe('tail');
  });

  it('lists pending multipart uploads until they are aborted', async () => {
    const Key = 'pending/object';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    expect(await listMultipartUploads(s3, bucket)).toEqual([{ key: Key, uploadId: UploadId }]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
    expect(await listMultipartUploads(s3, bucket)).toEqual([]);
  });
});

describe('SMTP sink', () => {
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(() => smtp?.stop());

  it('receives and parses a mail sent with nodemailer (AUTH, no TLS)', async () => {
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
      auth: { user: 'mailer', pass: 'mail-pw' },
    });
    await transport.sendMail({
      from: '"Backups" <backup@example.test>',
      to: 'dba@example.test',
      bcc: 'boss@example.test',
      subject: 'Backup report — 1 failed ✗',
      text: 'alpha: ok\nbeta: FAILED',
    });
    const [mail] = await smtp.waitForMessages(1, 5000);
    expect(mail).toMatchObject({
      from: '"Backups" <backup@example.test>',
      envelopeFrom: 'backup@example.test',
      to: ['dba@example.test', 'boss@example.test'],
      subject: 'Backup report — 1 failed ✗',
      auth: { username: 'mailer', password: 'mail-pw' },
    });
    expect(mail?.text.trim()).toBe('alpha: ok\nbeta: FAILED');
    smtp.clear();
    expect(smtp.messages).toEqual([]);
  });
});

describe('private servers for fault injection', () => {
  it('stop and start again on the same port, keeping data (PostgreSQL, MariaDB) or not (moto)', async () => {
    const dir = await scratchDir(rig.baseDir, 'restart');
    const [pg, maria, moto] = await Promise.all([
      startPostgres({ baseDir: dir, name: 'pg', adminPassword: 'pw 1' }),
      startMariadb({ baseDir: dir, rootPassword: "pw'2\\" }),
      startMoto({ baseDir: dir }),
    ]);
    try {
      await pg.query('postgres', 'CREATE TABLE kept (x int)');
      await maria.query('CREATE DATABASE kept');
      await Promise.all([pg.stop(), maria.stop(), moto.stop()]);
      await expect(pg.query('postgres', 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
      await expect(maria.query('SELECT 1')).rejects.toThrow(/Can't connect/);
      await expect(listKeys(s3Client(moto.endpoint), 'x')).rejects.toThrow();
      await Promise.all([pg.start(), maria.start(), moto.start()]);
      expect(await pg.query('postgres', 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);
      expect(await maria.query(`SHOW DATABASES LIKE 'kept'`)).toEqual([['kept']]);
      await createBucket(s3Client(moto.endpoint), 'after-restart');
    } finally {
      await Promise.all([pg.stop(), maria.stop(), moto.stop()]);
    }
  });
});
