// The engines are pure data: argv, env, config files and object names. No server is needed here; the MongoDB
// stand-ins (test/fixtures/bin) run through the real pipeline's startCommand to check what a child really gets.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../../src/admin-db/container-info.js';
import type { Compression } from '../../src/config.js';
import { ENGINES, findEngine, type Command, type RestoreTarget, type Target } from '../../src/engines/index.js';
import { mariadb, optionFileValue } from '../../src/engines/mariadb.js';
import { mongoConfigFile, mongodb } from '../../src/engines/mongodb.js';
import { BackupFailed } from '../../src/errors.js';
import { renderCommand, startCommand } from '../../src/pipeline/command.js';
import { makeMasker } from '../../src/util/mask.js';
import { ARCHIVE_MAGIC, fakeMongoSettingsPath } from '../fixtures/fake-mongo.mjs';

// Everything an option file, a YAML scalar or a shell could trip on.
const PASSWORD = `pa ss"w'o\\rd #;=$(id) ü`;
const BACKUP_ID = '2025-03-01_02:00:07';
const identity = (s: string) => s;

const container = (name: string, engine: string, port = 32015): Container => ({ id: 7, name, rowName: name, frequency: 'Daily', engine, port });

function target(engine: string, compression: Compression = 'none', name = 'shop'): Target {
  return { container: container(name, engine), host: 'db.internal', port: 32015, user: 'admin', password: PASSWORD, compression };
}

const restoreTo: RestoreTarget = { host: 'db.internal', port: 32016, user: 'admin', password: PASSWORD };

/** Every command an engine can produce for one backup and its restore. */
function allCommands(engineName: string): Command[] {
  const engine = findEngine(engineName)!;
  const commands: Command[] = [];
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    const t = target(engineName, compression);
    if (engine.inventory) commands.push(engine.inventory(t));
    commands.push(...engine.dumpSteps(t, 'shop\t1000\nother\t5\n').map((s) => s.command));
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
    const steps = mariadb.dumpSteps(target('MariaDB', compression, 'my shop/../x'), '');
    expect(steps).toHaveLength(1);
    expect(steps[0]!.objectName).toBe(`all-databases${suffix}`);
    expect(steps[0]!.compression).toBe(compression);
  });

  it('dumps a consistent, complete server over TCP, the password file first', () => {
    const { command } = mariadb.dumpSteps(target('MariaDB'), '')[0]!;
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
    const { password: _, ...noPassword } = target('MariaDB');
    const { command } = mariadb.dumpSteps(noPassword, '')[0]!;
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

  const myPrintDefaults = spawnSync('my_print_defaults', ['--help']).status === 0;
  it.skipIf(!myPrintDefaults)('writes passwords the MariaDB option-file reader reads back unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engines-test-'));
    try {
      for (const password of [PASSWORD, ' lead and trail ', 'a\\"b', 'end\\', '#', 'x\ny\tz', "'"]) {
        const { command } = mariadb.dumpSteps({ ...target('MariaDB'), password }, '')[0]!;
        const file = join(dir, 'c.cnf');
        await writeFile(file, command.configFile!.content, { mode: 0o600 });
        const out = spawnSync('my_print_defaults', [`--defaults-file=${file}`, 'client'], { encoding: 'utf8' });
        expect(out.stdout.replace(/\n$/, '')).toBe(`--password=${password}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('MongoDB', () => {
  it.each([
    ['none', 'archive', 'none', false],
    ['gzip', 'archive.gz', 'none', true],
    ['zstd', 'archive.zst', 'zstd', false],
  ] as const)('%s → %s (pipeline compression %s, --gzip %s)', (compression, objectName, stepCompression, gzip) => {
    const steps = mongodb.dumpSteps(target('MongoDB', compression), '');
    expect(steps).toHaveLength(1);
    expect(steps[0]!.objectName).toBe(objectName);
    expect(steps[0]!.compression).toBe(stepCompression);
    expect(steps[0]!.command.argv.includes('--gzip')).toBe(gzip);
  });

  it('dumps with the password in a --config YAML file', () => {
    const { command } = mongodb.dumpSteps(target('MongoDB'), '')[0]!;
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
    const { password: _, ...noPassword } = target('MongoDB');
    const { command } = mongodb.dumpSteps(noPassword, '')[0]!;
    expect(command.configFile).toBeUndefined();
    expect(command.argv.some((a) => a.startsWith('--username'))).toBe(false);
  });
});

describe('Postgres restore ignores what is not its own', () => {
  it('takes only the globals and .dump objects', () => {
    const steps = findEngine('Postgres')!.restoreSteps(['shop_globals.sql', 'shop_shop.dump.zst', 'archive', 'shop_2025.sql', 'x.txt'], restoreTo);
    expect(steps.map((s) => s.objectName)).toEqual(['shop_globals.sql', 'shop_shop.dump.zst']);
  });
});

// The stand-ins, run as the pipeline runs them: filtered env, the password only in the 0600 --config file.
describe('MongoDB stand-ins through startCommand', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bin');
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  const mask = makeMasker([PASSWORD]);
  const savedPath = process.env.PATH;
  let dir: string;

  const settings = (extra: Record<string, string | number> = {}) =>
    writeFile(
      fakeMongoSettingsPath(port),
      Object.entries({ FAKE_MONGO_PASSWORD: PASSWORD, FAKE_MONGODUMP_LOG: join(dir, 'dump.log'), FAKE_MONGORESTORE_LOG: join(dir, 'restore.log'), ...extra })
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
  const mongoTarget = (compression: Compression): Target => ({ ...target('MongoDB', compression), host: '127.0.0.1', port });

  async function dump(compression: Compression): Promise<{ out: Buffer; finished: Promise<void> }> {
    const step = mongodb.dumpSteps(mongoTarget(compression), '')[0]!;
    const running = await startCommand(step.command, { mask });
    const chunks: Buffer[] = [];
    running.stdout.on('data', (c: Buffer) => chunks.push(c));
    const finished = running.finished;
    await finished.catch(() => {});
    return { out: Buffer.concat(chunks), finished };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-mongo-test-'));
    await mkdir(dirname(fakeMongoSettingsPath(port)), { recursive: true });
    process.env.PATH = `${bin}:${savedPath}`;
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await rm(fakeMongoSettingsPath(port), { force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it('mongodump --gzip gzips the whole archive (as mongo-tools does with --archive); it got no password in argv or env', async () => {
    await settings({ FAKE_MONGODUMP_BYTES: 100_000 });
    const { out, finished } = await dump('gzip');
    await finished;
    const archive = gunzipSync(out);
    expect(archive.subarray(0, 4).equals(ARCHIVE_MAGIC)).toBe(true);
    expect(archive.length).toBe(100_000);
    const log = await readFile(join(dir, 'dump.log'), 'utf8');
    const [argv = '', env = ''] = log.split('--- env ---\n');
    expect(argv.split('\n')).toContain('--gzip');
    expect(log).not.toContain(PASSWORD);
    const names = env.split('\n').filter(Boolean).map((l) => l.split('=')[0]);
    expect(names.every((n) => ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'].includes(n!))).toBe(true);
  });

  it('mongorestore reads the archive from stdin (ungzipping it itself with --gzip)', async () => {
    await settings({ FAKE_MONGODUMP_BYTES: 200_000 });
    const { out } = await dump('gzip');
    const step = mongodb.restoreSteps(['archive.gz'], { ...restoreTo, host: '127.0.0.1', port })[0]!;
    const running = await startCommand(step.command, { mask, stdin: 'pipe' });
    running.stdout.resume();
    running.stdin!.end(out);
    await running.finished;
    expect(await readFile(join(dir, 'restore.log'), 'utf8')).toMatch(/^bytes=200000\n--archive\n--gzip\n/);
  });

  it('a dump that dies midway fails with its exit code and stderr', async () => {
    await settings({ FAKE_MONGODUMP_FAIL_AFTER: 50_000 });
    const { out, finished } = await dump('none');
    expect(out.length).toBe(50_000);
    const err = await finished.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailed);
    expect((err as BackupFailed).message).toMatch(/^mongodump exited with code 1/);
    expect((err as BackupFailed).stderrTail).toMatch(/Failed: connection reset by peer$/);
  });

  it('a hung dump is killed', async () => {
    await settings({ FAKE_MONGODUMP_HANG_AFTER: 1000 });
    const step = mongodb.dumpSteps(mongoTarget('none'), '')[0]!;
    const running = await startCommand(step.command, { mask });
    let bytes = 0;
    running.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes >= 1000) running.kill('stalled');
    });
    await expect(running.finished).rejects.toThrow(/stalled/);
    expect(bytes).toBe(1000);
  });

  it('refuses a password on the command line', async () => {
    await settings();
    const running = await startCommand({ argv: ['mongodump', '--archive', `--port=${port}`, `--password=${PASSWORD}`] }, { mask });
    running.stdout.resume();
    await expect(running.finished).rejects.toThrow(/exited with code 2/);
  });
});
