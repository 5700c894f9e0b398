// The deciding parts of restore, verify and list, without servers: object names, backup choice, target URLs, the
// SQL stream filters, the listing merge, the verify rotation, lifecycle rules, the env settings.
import { describe, expect, it } from 'vitest';
import type { LoggedBackup } from '../../src/admin-db/restore-queries.js';
import { loadConfig } from '../../src/config.js';
import { mariadbDatabaseFilter } from '../../src/engines/mariadb-filter.js';
import { databaseOfObject, globalsFilter, pgRestoreCommand, postgres } from '../../src/engines/postgres.js';
import type { LineFilter } from '../../src/engines/types.js';
import { mergeBackups } from '../../src/commands/list.js';
import { rotate } from '../../src/restore/test-restore.js';
import { chooseBackup } from '../../src/restore/source.js';
import { engineOfObjects } from '../../src/engines/index.js';
import { parseTargetUrl } from '../../src/restore/target.js';
import { describeStats } from '../../src/restore/test-restore.js';
import { ruleCovers } from '../../src/storage/lifecycle.js';
import { groupBackupObjects, type BackupFolder } from '../../src/storage/listing.js';
import { folderStartedAt } from '../../src/storage/layout.js';

const credentials = {
  postgres: { user: 'pgdba', password: 'pg-pw' },
  mariadb: { user: 'root', password: 'maria-pw' },
  mongodb: { user: 'dbaas' },
};

function run(filter: LineFilter, text: string): string {
  const out = text.split('\n').flatMap((l) => {
    const r = filter.line(l);
    return r === null ? [] : [r];
  });
  filter.end?.();
  return out.join('\n');
}

describe('PostgreSQL object names', () => {
  it.each([
    ['app_main_shop.dump', 'app_main', 'shop'],
    ['app_main_my_db.dump', 'app_main', 'my_db'],
    ['a_b_c.dump.zst', 'a_b', 'c'],
    ['mydb_admin.dump', '_admin-db', 'mydb_admin'],
  ])('legacy: %s in %s → %s', (object, segment, db) => expect(databaseOfObject(object, segment)).toBe(db));

  it.each([
    ['shop.dump', 'shop'],
    ['my_db.dump.zst', 'my_db'],
    ['=C3=9Cn=C3=AFcode=20db.dump', 'Ünïcode db'],
    ['caf=C3=A9.dump', 'café'],
  ])('%s → %s', (object, db) => expect(databaseOfObject(object)).toBe(db));

  it('restore steps: globals first, then the chosen database only', () => {
    const names = ['globals.sql', 'shop.dump', 'main_db.dump', 'caf=C3=A9.dump'];
    const to = { host: 'h', port: 5432, user: 'pgdba', database: 'main_db' };
    const steps = postgres.restoreSteps(names, to);
    expect(steps.map((s) => s.objectName)).toEqual(['globals.sql', 'main_db.dump']);
    expect(steps[0]!.command.argv).toEqual(expect.arrayContaining(['psql', 'ON_ERROR_STOP=1']));
    expect(steps[0]!.completionMarker).toBe('-- PostgreSQL database cluster dump complete');
    expect(postgres.restoreSteps(names, { ...to, noOwner: true }).map((s) => s.objectName)).toEqual(['main_db.dump']);
    expect(postgres.restoreSteps(names, { ...to, database: 'café', noOwner: true }).map((s) => s.objectName)).toEqual(['caf=C3=A9.dump']);
    const legacy = ['app_globals.sql', 'app_main_db.dump'];
    expect(postgres.restoreSteps(legacy, to, { databaseOf: (o) => databaseOfObject(o, 'app') }).map((s) => s.objectName)).toEqual(legacy);
  });

  it('pg_restore: --create under its own name, or one transaction into a named database', () => {
    const base = { host: 'h', port: 5432, user: 'u', password: 'secret' };
    expect(pgRestoreCommand(base).argv).toEqual(['pg_restore', '--exit-on-error', '--no-password', '--create', '-d', 'postgres']);
    expect(pgRestoreCommand({ ...base, intoDatabase: "it's", clean: true, noOwner: true }).argv).toEqual([
      'pg_restore', '--exit-on-error', '--no-password', '--single-transaction', '--clean', '--if-exists', '--no-owner', '--no-privileges',
      '-d', "dbname='it\\'s'",
    ]);
    expect(JSON.stringify(pgRestoreCommand(base).argv)).not.toContain('secret');
    expect(pgRestoreCommand(base).secretEnv).toEqual({ PGPASSWORD: 'secret' });
  });

  it('globals: roles the target has are neither created nor altered (their passwords stay)', () => {
    const globals = [
      '\\restrict abc',
      'CREATE ROLE pgdba;',
      "ALTER ROLE pgdba WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$x';",
      'CREATE ROLE "Mixed ""Role""";',
      'ALTER ROLE "Mixed ""Role""" WITH LOGIN;',
      'CREATE ROLE shop_app;',
      "ALTER ROLE shop_app WITH LOGIN PASSWORD 'SCRAM';",
      'GRANT shop_app TO pgdba GRANTED BY pgdba;',
      '-- PostgreSQL database cluster dump complete',
    ].join('\n');
    const out = run(globalsFilter(['pgdba', 'Mixed "Role"']), globals).split('\n');
    expect(out.filter((l) => !l.startsWith('--'))).toEqual([
      '\\restrict abc',
      'CREATE ROLE shop_app;',
      "ALTER ROLE shop_app WITH LOGIN PASSWORD 'SCRAM';",
      'GRANT shop_app TO pgdba GRANTED BY pgdba;',
    ]);
    expect(out.join('\n')).not.toContain('SCRAM-SHA-256$x');
  });
});

describe('engine of a backup from its objects', () => {
  it.each([
    [['a_globals.sql', 'a_x.dump'], 'Postgres'],
    [['globals.sql', 'x.dump.zst'], 'Postgres'],
    [['mydb_admin.dump'], 'Postgres'],
    [['a_2025-01-01_02:00:00.sql.gz'], 'MariaDB'],
    [['a_2025-01-01_02:00:00.2.sql'], 'MariaDB'],
    [['globals.sql'], 'Postgres'],
    [['all-databases.sql.zst'], 'MariaDB'],
    [['archive.gz'], 'MongoDB'],
    [['notes.txt'], undefined],
  ])('%j → %s', (names, engine) => expect(engineOfObjects(names)?.name).toBe(engine));
});

describe('MariaDB dump filter', () => {
  const dump = [
    '-- MariaDB dump 10.19',
    '/*!40101 SET NAMES utf8mb4 */;',
    '--',
    '-- Current Database: `crm`',
    '--',
    '/*!40000 DROP DATABASE IF EXISTS `crm`*/;',
    'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `crm` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
    'USE `crm`;',
    "INSERT INTO `contacts` VALUES (1,'-- Current Database: `x`');",
    'DELIMITER ;;',
    'CREATE PROCEDURE p() SELECT 1 ;;',
    'DELIMITER ;',
    '-- Current Database: `mysql`',
    '/*!40000 DROP DATABASE IF EXISTS `mysql`*/;',
    'USE `mysql`;',
    "INSERT INTO `global_priv` VALUES ('root');",
    '-- Current Database: `wiki`',
    'USE `wiki`;',
    'CREATE TABLE pages (id int);',
    '-- Current Database: `crm`',
    'USE `crm`;',
    '/*!50001 VIEW `v` AS select 1 */;',
    '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;',
    '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
    '-- Dump completed on 2025-03-01 02:00:07',
  ].join('\n');

  it('keeps one database under a new name, and the header and footer', () => {
    const out = run(mariadbDatabaseFilter((db) => (db === 'crm' ? 'crm_copy' : null), "database 'crm'"), dump);
    expect(out).toContain('/*!40000 DROP DATABASE IF EXISTS `crm_copy`*/;');
    expect(out).toContain('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `crm_copy` /*!40100');
    expect(out.match(/^USE `crm_copy`;$/gm)).toHaveLength(2);
    expect(out).toContain("INSERT INTO `contacts` VALUES (1,'-- Current Database: `x`');");
    expect(out).toContain('CREATE PROCEDURE p()');
    expect(out).toContain('/*!50001 VIEW `v`');
    expect(out).not.toMatch(/mysql|wiki|global_priv|pages/);
    expect(out).toMatch(/SQL_MODE=@OLD_SQL_MODE \*\/;\n-- Dump completed on/);
    expect(out.startsWith('-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;')).toBe(true);
  });

  it('says which databases the dump holds when the wanted one is not there', () => {
    expect(() => run(mariadbDatabaseFilter((db) => (db === 'nope' ? 'nope' : null), "database 'nope'"), dump)).toThrow(
      "the backup holds no database 'nope' (its databases: crm, wiki)",
    );
  });
});

describe('--to URLs', () => {
  it('take missing users and passwords from the configuration', () => {
    const t = parseTargetUrl('postgres://db.internal:32015/newdb?sslmode=require', credentials);
    expect(t).toMatchObject({ engine: { key: 'postgres' }, database: 'newdb', conn: { host: 'db.internal', port: 32015, user: 'pgdba', password: 'pg-pw', extraEnv: { PGSSLMODE: 'require' } } });
    expect(t.label).toBe('postgresql://pgdba@db.internal:32015/newdb');
  });
  it('keep a given password out of the label', () => {
    const t = parseTargetUrl('mysql://admin:s%40cret@10.0.0.5', credentials);
    expect(t).toMatchObject({ engine: { key: 'mariadb' }, conn: { port: 3306, user: 'admin', password: 's@cret' } });
    expect(t.database).toBeUndefined();
    expect(t.label).not.toContain('cret');
    expect(parseTargetUrl('postgresql+psycopg2://u@h/db', credentials).database).toBe('db');
    expect(parseTargetUrl('mongodb://h:27018', credentials)).toMatchObject({ engine: { key: 'mongodb' }, conn: { port: 27018, user: 'dbaas' } });
  });
  it('refuse other schemes', () =>
    expect(() => parseTargetUrl('http://u:pw@h/', credentials)).toThrow("--to must be a postgresql://, mariadb:// (mysql://) or mongodb:// URL, not 'http://u:***@h/'"));
});

const BUCKET = 'b';
const folder = (folderId: string, manifest = false): BackupFolder => ({
  folderId,
  folder: `mydb/a.1/${folderId}/`,
  legacy: !folderId.includes('T'),
  ...(folderStartedAt(folderId) ? { startedAt: folderStartedAt(folderId)! } : {}),
  objects: [],
  bytes: 0,
  ...(manifest ? { manifest: { name: 'manifest.json', key: `mydb/a.1/${folderId}/manifest.json`, bytes: 10 } } : {}),
});
const logged = (folderId: string, ok: boolean | undefined, backupId = folderId): LoggedBackup => ({
  backupId,
  backupType: 'Daily',
  cId: 1,
  url: `s3://${BUCKET}/mydb/a.1/${folderId}/`,
  start: folderStartedAt(folderId) ?? new Date('2025-01-01T00:00:00Z'),
  ...(ok === undefined ? {} : { end: new Date('2025-01-01T00:01:00Z') }),
  errMsg: ok === false ? 'ERROR: pg_dump exited with code 1' : '',
  ok: ok === true,
});

describe('which backup a restore reads', () => {
  const ids = ['20250303T020000.000Z-aaaaaa', '20250302T020000.000Z-bbbbbb', '20250301T020000.000Z-cccccc'];
  const folders = ids.map((id) => folder(id, true));
  it('latest: the newest folder whose end row succeeded', () => {
    const log = [logged(ids[0]!, undefined), logged(ids[1]!, false), logged(ids[2]!, true)];
    const c = chooseBackup(BUCKET, folders, log, undefined);
    expect(c.folder.folderId).toBe(ids[2]);
    expect(c.reason).toMatch(/successful 'end' row/);
    expect(chooseBackup(BUCKET, folders, log, 'latest').folder.folderId).toBe(ids[2]);
  });
  it('latest without a successful row (or without the log): the newest complete folder, saying so', () => {
    const partial = [folder('20250304T020000.000Z-dddddd'), ...folders];
    expect(chooseBackup(BUCKET, partial, [], undefined)).toMatchObject({ folder: { folderId: ids[0] }, reason: expect.stringMatching(/newest complete backup/) });
    expect(chooseBackup(BUCKET, partial, undefined, undefined).reason).toMatch(/could not be read/);
  });
  it('--backup-id: a folder id or a backups row id, with what the log says of it; an unknown id lists the newest', () => {
    expect(chooseBackup(BUCKET, folders, [logged(ids[1]!, false)], ids[1]).reason).toMatch(/FAILED: ERROR: pg_dump/);
    expect(chooseBackup(BUCKET, folders, [logged(ids[1]!, true, '2025-03-02_03:00:00')], '2025-03-02_03:00:00').folder.folderId).toBe(ids[1]);
    expect(() => chooseBackup(BUCKET, folders, [], '2024-01-01_00:00:00')).toThrow(/no backup 2024-01-01_00:00:00 in S3 \(newest: 20250303T020000/);
  });
  it('--backup-id naming two backups (the hour DST repeats) is refused, naming their folders', () => {
    const log = [logged(ids[0]!, true, '2025-11-02_01:30:00'), logged(ids[1]!, true, '2025-11-02_01:30:00')];
    expect(() => chooseBackup(BUCKET, folders, log, '2025-11-02_01:30:00')).toThrow(/names 2 backups \(folders 20250303T020000.000Z-aaaaaa, 20250302T020000.000Z-bbbbbb\): give the folder id/);
  });
});

describe('list', () => {
  it('groups objects by backup folder, newest first by UTC start, and merges the log by where each row points', () => {
    const groups = groupBackupObjects('mydb/a.1/', [
      { Key: 'mydb/a.1/20250301T020000.000Z-cccccc/shop.dump', Size: 100 },
      { Key: 'mydb/a.1/20250301T020000.000Z-cccccc/globals.sql', Size: 5 },
      { Key: 'mydb/a.1/20250302T020000.000Z-bbbbbb/shop.dump', Size: 200 },
      { Key: 'mydb/a.1/stray', Size: 1 },
      { Key: 'mydb/a.1/not-a-folder-id/x.dump', Size: 1 },
    ]);
    expect(groups.map((g) => [g.folderId, g.bytes, g.objects.map((o) => o.name)])).toEqual([
      ['20250302T020000.000Z-bbbbbb', 200, ['shop.dump']],
      ['20250301T020000.000Z-cccccc', 105, ['globals.sql', 'shop.dump']],
    ]);
    const merged = mergeBackups(BUCKET, groups, [logged('20250303T020000.000Z-aaaaaa', false, '2025-03-03_02:00:00'), logged('20250301T020000.000Z-cccccc', true, '2025-03-01_02:00:00')]);
    expect(merged.map((b) => [b.backupId, b.status, b.inS3])).toEqual([
      ['2025-03-03_02:00:00', 'failed', false],
      ['20250302T020000.000Z-bbbbbb', 'unlogged', true],
      ['2025-03-01_02:00:00', 'ok', true],
    ]);
  });
});

describe('verify', () => {
  it('rotates: never verified first, then the longest ago', () => {
    const last = new Map([['a', new Date('2025-03-02')], ['b', new Date('2025-03-01')]]);
    expect(rotate([{ name: 'a' }, { name: 'b' }, { name: 'c' }], last, 2).map((x) => x.name)).toEqual(['c', 'b']);
  });
  it('describes what came back', () => {
    expect(
      describeStats([
        { database: 'shop', tables: [{ table: 'public.c', rows: 1000 }, { table: 'public.o', rows: 3000 }], rows: 4000, largeObjects: 0 },
        { database: 'docs', tables: [{ table: 'public.d', rows: 2 }], rows: 2, largeObjects: 2 },
      ]),
    ).toBe('2 databases, 3 tables, 4,002 rows, 2 large objects (shop: 2 tables, 4,000 rows; docs: 1 tables, 2 rows, 2 large objects)');
  });
});

describe('lifecycle rules', () => {
  it('an abort rule covers the prefix when its filter is empty or a prefix of it', () => {
    expect(ruleCovers({ Status: 'Enabled', Filter: { Prefix: '' } }, 'mydb/')).toBe(true);
    expect(ruleCovers({ Status: 'Enabled', Filter: { Prefix: 'mydb/' } }, 'mydb/')).toBe(true);
    expect(ruleCovers({ Status: 'Enabled', Filter: { Prefix: 'other/' } }, 'mydb/')).toBe(false);
    expect(ruleCovers({ Status: 'Enabled', Filter: { Tag: { Key: 'k', Value: 'v' } } }, 'mydb/')).toBe(false);
  });
});

describe('settings', () => {
  const env = { SQLALCHEMY_ADMIN_URI: 'postgresql://u:adminpw@h/db', AWS_BUCKET_NAME: 's3://bucket-1' };
  it('verification servers, sample and ping URL; their secrets are masked', () => {
    const c = loadConfig({
      ...env,
      BACKUP_VERIFY_POSTGRES_URL: 'postgresql+psycopg2://v:verify-pw@verify:5433/maint',
      BACKUP_VERIFY_MARIADB_URL: 'mysql://root@verify:3307',
      BACKUP_VERIFY_SAMPLE: '3',
      BACKUP_PING_URL: 'https://hc-ping.com/abc-uuid/',
    });
    expect(c.verify).toEqual({ servers: { postgres: 'postgresql://v:verify-pw@verify:5433/maint', mariadb: 'mariadb://root@verify:3307' }, sample: 3 });
    expect(c.pingUrl).toBe('https://hc-ping.com/abc-uuid');
    expect(c.secrets).toEqual(expect.arrayContaining(['verify-pw', 'https://hc-ping.com/abc-uuid']));
  });
  it('defaults: no verification, no ping', () => {
    const c = loadConfig(env);
    expect(c.verify).toEqual({ servers: {}, sample: 0 });
    expect(c.pingUrl).toBeUndefined();
  });
  it.each([
    ['BACKUP_VERIFY_POSTGRES_URL', 'mysql://h'],
    ['BACKUP_VERIFY_MARIADB_URL', 'postgres://h'],
    ['BACKUP_VERIFY_SAMPLE', '-1'],
    ['BACKUP_PING_URL', 'ftp://x'],
  ])('%s=%s is refused', (key, value) => expect(() => loadConfig({ ...env, [key]: value })).toThrow(key));
});
