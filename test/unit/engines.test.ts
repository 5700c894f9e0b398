// The engines are pure data: argv, env, config files and object names. No server and no child process here; what a
// child really gets from these commands is checked in test/engine-commands.test.ts.
import { describe, expect, it } from 'vitest';
import { ENGINES, findEngine, type Command } from '../../src/engines/index.js';
import { mariadb, optionFileValue } from '../../src/engines/mariadb.js';
import { mongoConfigFile, mongodb } from '../../src/engines/mongodb.js';
import { ADMIN_DB_COMPRESSION, dumpDatabaseStep, postgres } from '../../src/engines/postgres.js';
import { renderCommand } from '../../src/pipeline/command.js';
import { BACKUP_ID, PASSWORD, restoreTo, dumpSource } from '../helpers/engine-sources.js';

const identity = (s: string) => s;

/** Every command an engine can produce for one backup and its restore. */
function allCommands(engineName: string): Command[] {
  const engine = findEngine(engineName)!;
  const commands: Command[] = [];
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    const t = dumpSource(engineName, compression);
    commands.push(...engine.dumpSteps(t, [{ name: 'shop', size: 1000 }, { name: 'other', size: 5 }]).map((s) => s.command));
  }
  const names = ['shop_globals.sql', 'shop_shop.dump', `shop_${BACKUP_ID}.sql`, `shop_${BACKUP_ID}.sql.gz`, 'archive', 'archive.gz', 'archive.zst'];
  commands.push(...engine.restoreSteps(names, restoreTo).map((s) => s.command));
  return commands;
}

describe('engine lookup', () => {
  it.each([
    ['Postgres', 'Postgres'],
    ['MariaDB', 'MariaDB'],
    ['mysql', 'MariaDB'],
    [' mariadb ', 'MariaDB'],
    ['MongoDB', 'MongoDB'],
    ['mongo', 'MongoDB'],
  ])('%s → %s', (dbengine, name) => expect(findEngine(dbengine)?.name).toBe(name));

  it('knows no other engine', () => expect(findEngine('Oracle')).toBeUndefined());
  it('lists the three engines', () => expect(ENGINES.map((e) => e.name)).toEqual(['Postgres', 'MariaDB', 'MongoDB']));
});

describe.each(['Postgres', 'MariaDB', 'MongoDB'])('%s never puts the password in argv', (engineName) => {
  it('not in argv nor in the rendered command, but in secretEnv or the 0600 config file', () => {
    const commands = allCommands(engineName);
    expect(commands.length).toBeGreaterThan(3);
    for (const command of commands) {
      expect(command.argv.some((a) => a.includes(PASSWORD))).toBe(false);
      expect(command.argv.some((a) => /^(-p|--password)/.test(a))).toBe(false);
      expect(Object.values(command.env ?? {})).not.toContain(PASSWORD);
      const fileArgs = command.configFile?.args('/tmp/x/client.cnf') ?? [];
      expect(fileArgs.some((a) => a.includes(PASSWORD))).toBe(false);
      expect(renderCommand(command, identity)).not.toContain(PASSWORD);
      const carried = Object.values(command.secretEnv ?? {}).includes(PASSWORD) || (command.configFile?.content ?? '').length > 0;
      expect(carried).toBe(true);
    }
  });
});

describe('MariaDB', () => {
  it.each([
    ['none', '.sql'],
    ['gzip', '.sql.gz'],
    ['zstd', '.sql.zst'],
  ] as const)('dumps everything in one object, %s → all-databases%s', (compression, suffix) => {
    const steps = mariadb.dumpSteps(dumpSource('MariaDB', compression, 'my shop/../x'), []);
    expect(steps).toHaveLength(1);
    expect(steps[0]!.objectName).toBe(`all-databases${suffix}`);
    expect(steps[0]!.compression).toBe(compression);
  });

  it('dumps a consistent, complete server over TCP, the password file first', () => {
    const { command } = mariadb.dumpSteps(dumpSource('MariaDB'), [])[0]!;
    expect(command.argv[0]).toBe('mariadb-dump');
    expect(command.argv).toEqual(
      expect.arrayContaining([
        '--host=db.internal',
        '--port=32015',
        '--protocol=TCP',
        '--user=admin',
        '--single-transaction',
        '--quick',
        '--all-databases',
        '--routines',
        '--events',
        '--triggers',
        '--hex-blob',
        '--default-character-set=utf8mb4',
        '--add-drop-database',
        '--flush-privileges',
      ]),
    );
    for (const locking of ['--lock-all-tables', '-x', '--master-data', '--dump-slave', '--flush-logs', '--force']) {
      expect(command.argv.some((a) => a.startsWith(locking))).toBe(false);
    }
    expect(command.configFile?.position).toBe('first');
    expect(command.configFile?.content).toBe(`[client]\npassword=${optionFileValue(PASSWORD)}\n`);
    expect(renderCommand(command, identity)).toMatch(/^mariadb-dump --defaults-file=<0600-temp-file> --host=db\.internal /);
  });

  it('without a password leaves the option files alone', () => {
    const { password: _, ...noPassword } = dumpSource('MariaDB');
    const { command } = mariadb.dumpSteps(noPassword, [])[0]!;
    expect(command.configFile).toBeUndefined();
  });

  it('restores .sql, .sql.gz and .sql.zst with the mariadb client, stopping at the first error', () => {
    const steps = mariadb.restoreSteps(
      ['shop_2025-03-01_02:00:07.sql', 'a.sql.gz', 'b.sql.zst', 'archive', 'shop_shop.dump', 'c.sql.bz2', 'd.sqlite', 'notes.txt'],
      restoreTo,
    );
    expect(steps.map((s) => [s.objectName, s.compression])).toEqual([
      ['shop_2025-03-01_02:00:07.sql', 'none'],
      ['a.sql.gz', 'gzip'],
      ['b.sql.zst', 'zstd'],
    ]);
    const { command } = steps[0]!;
    expect(command.argv[0]).toBe('mariadb');
    expect(command.argv).toEqual(expect.arrayContaining(['--host=db.internal', '--port=32016', '--protocol=TCP', '--user=admin', '--binary-mode']));
    expect(command.argv).not.toContain('--force');
    expect(command.configFile?.position).toBe('first');
    expect(command.configFile?.content).toContain(optionFileValue(PASSWORD));
  });
});

describe('MongoDB', () => {
  it.each([
    ['none', 'archive', 'none', false],
    ['gzip', 'archive.gz', 'none', true],
    ['zstd', 'archive.zst', 'zstd', false],
  ] as const)('%s → %s (pipeline compression %s, --gzip %s)', (compression, objectName, stepCompression, gzip) => {
    const steps = mongodb.dumpSteps(dumpSource('MongoDB', compression), []);
    expect(steps).toHaveLength(1);
    expect(steps[0]!.objectName).toBe(objectName);
    expect(steps[0]!.compression).toBe(stepCompression);
    expect(steps[0]!.command.argv.includes('--gzip')).toBe(gzip);
  });

  it('dumps with the password in a --config YAML file', () => {
    const { command } = mongodb.dumpSteps(dumpSource('MongoDB'), [])[0]!;
    expect(command.argv).toEqual([
      'mongodump',
      '--archive',
      '--host=db.internal',
      '--port=32015',
      '--username=admin',
      '--authenticationDatabase=admin',
    ]);
    expect(command.configFile?.content).toBe(mongoConfigFile(PASSWORD));
    expect(command.configFile?.args('/p')).toEqual(['--config=/p']);
    const value = /^password: (.*)$/m.exec(command.configFile!.content)![1]!;
    expect(JSON.parse(value)).toBe(PASSWORD);
  });

  it('restores archive, archive.gz (mongorestore --gzip) and archive.zst (the pipeline unzstds)', () => {
    const steps = mongodb.restoreSteps(['archive', 'archive.gz', 'archive.zst', 'shop_x.sql', 'archive.tar', 'my_archive', 'x.dump'], restoreTo);
    expect(steps.map((s) => [s.objectName, s.compression, s.command.argv.includes('--gzip')])).toEqual([
      ['archive', 'none', false],
      ['archive.gz', 'none', true],
      ['archive.zst', 'zstd', false],
    ]);
    for (const { command } of steps) {
      expect(command.argv[0]).toBe('mongorestore');
      expect(command.argv).toEqual(expect.arrayContaining(['--archive', '--drop', '--host=db.internal', '--port=32016', '--username=admin', '--authenticationDatabase=admin']));
      expect(command.configFile?.content).toBe(mongoConfigFile(PASSWORD));
    }
  });

  it('without a password does not authenticate (a lone --username would prompt)', () => {
    const { password: _, ...noPassword } = dumpSource('MongoDB');
    const { command } = mongodb.dumpSteps(noPassword, [])[0]!;
    expect(command.configFile).toBeUndefined();
    expect(command.argv.some((a) => a.startsWith('--username'))).toBe(false);
  });
});

describe('Postgres', () => {
  it.each([
    ['zstd', {}, ['-Fc', '-Z0'], 'shop.dump.zst', 'zstd'],
    ['gzip', {}, ['-Fc', '-Z0'], 'shop.dump.gz', 'gzip'],
    ['none', {}, ['-Fc', '-Z0'], 'shop.dump', 'none'],
    // BACKUP_COMPRESS_POSTGRES=pgdump: pg_dump's own zlib, as before zstd, and nothing in the pipeline.
    ['none', { nativeCompression: true }, ['-Fc'], 'shop.dump', 'none'],
  ] as const)('compression %s %j: pg_dump %j → %s, piped through %s', (compression, extra, format, objectName, stepCompression) => {
    const steps = postgres.dumpSteps({ ...dumpSource('Postgres', compression), ...extra }, [{ name: 'shop', size: 1000 }]);
    expect(steps.map((s) => [s.objectName, s.compression])).toEqual([
      ['globals.sql', 'none'],
      [objectName, stepCompression],
    ]);
    const { argv } = steps[1]!.command;
    expect(argv.slice(0, format.length + 1)).toEqual(['pg_dump', ...format]);
    expect(argv[format.length + 1]).toBe('--no-password');
    expect(steps[1]!.database).toBe('shop');
  });

  it("the admin DB's own backup is pg_dump's own compression, a plain .dump (its restore needs pg_restore alone)", () => {
    const step = dumpDatabaseStep({ host: 'admin.internal', port: 5432, user: 'admin' }, 'mydb_admin', ADMIN_DB_COMPRESSION);
    expect(step.objectName).toBe('mydb_admin.dump');
    expect(step.compression).toBe('none');
    expect(step.command.argv).not.toContain('-Z0');
  });
});

describe('Postgres restore ignores what is not its own', () => {
  it('takes only the globals and .dump objects', () => {
    const steps = findEngine('Postgres')!.restoreSteps(['shop_globals.sql', 'shop_shop.dump.zst', 'archive', 'shop_2025.sql', 'x.txt'], restoreTo);
    expect(steps.map((s) => s.objectName)).toEqual(['shop_globals.sql', 'shop_shop.dump.zst']);
  });
});
