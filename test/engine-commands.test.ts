// The engines' commands and the MongoDB stand-ins (test/fixtures/bin) as real child processes: what a child really
// gets, and what the stand-in mongodump writes. No database server; the pure parts are in test/unit/engines.test.ts
// and test/unit/mongo-archive.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Compression } from '../src/engines/compression.js';
import type { DumpSource } from '../src/engines/index.js';
import { mariadb } from '../src/engines/mariadb.js';
import { summarizeArchive, type ArchiveSummary } from '../src/counts/mongo-archive-reader.js';
import { mongodb } from '../src/engines/mongodb.js';
import { CommandFailed } from '../src/errors.js';
import { startCommand } from '../src/pipeline/command.js';
import { DEBIAN_LAYOUT, directProgram } from '../src/pipeline/pg-wrapper.js';
import { makeMasker } from '../src/util/mask.js';
import { ARCHIVE_MAGIC, fakeMongoSettingsPath } from './fixtures/fake-mongo.mjs';
import { fakeDump } from './fixtures/mongo-archive-writer.mjs';
import { PASSWORD, restoreTo, dumpSource } from './helpers/engine-sources.js';

describe('MariaDB option files', () => {
  const myPrintDefaults = spawnSync('my_print_defaults', ['--help']).status === 0;
  it.skipIf(!myPrintDefaults)('writes passwords the MariaDB option-file reader reads back unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engines-test-'));
    try {
      for (const password of [PASSWORD, ' lead and trail ', 'a\\"b', 'end\\', '#', 'x\ny\tz', "'"]) {
        const { command } = mariadb.dumpSteps({ ...dumpSource('MariaDB'), password }, [])[0]!;
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

// The stand-ins, run as the pipeline runs them: filtered env, the password only in the 0600 --config file.
describe('MongoDB stand-ins through startCommand', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bin');
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
  const mongoTarget = (compression: Compression): DumpSource => ({ ...dumpSource('MongoDB', compression), host: '127.0.0.1', port });

  async function dump(compression: Compression): Promise<{ out: Buffer; finished: Promise<void> }> {
    const step = mongodb.dumpSteps(mongoTarget(compression), [])[0]!;
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
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).message).toMatch(/^mongodump exited with code 1/);
    expect((err as CommandFailed).stderrTail).toMatch(/Failed: connection reset by peer$/);
  });

  it('a hung dump is killed', async () => {
    await settings({ FAKE_MONGODUMP_HANG_AFTER: 1000 });
    const step = mongodb.dumpSteps(mongoTarget('none'), [])[0]!;
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

describe("PostgreSQL's programs behind Debian's pg_wrapper", () => {
  const path = process.env.PATH ?? '';
  const tools = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql'];
  const wrapped = tools.filter((p) => directProgram(p, { PGHOST: '127.0.0.1' }, path) !== undefined);

  it.runIf(wrapped.length > 0)('each is the program pg_wrapper runs for it with PGHOST set (the same --version)', () => {
    expect(wrapped).toEqual(tools);
    for (const program of wrapped) {
      const env = { PATH: path, PGHOST: '127.0.0.1' };
      const direct = directProgram(program, env, path)!;
      expect(direct.file.startsWith(`${DEBIAN_LAYOUT.binRoot}/`)).toBe(true);
      const viaWrapper = spawnSync(program, ['--version'], { env, encoding: 'utf8' }).stdout;
      expect(viaWrapper).toMatch(/\(PostgreSQL\) \d+/);
      expect(spawnSync(direct.file, ['--version'], { env: { ...env, ...direct.env }, encoding: 'utf8' }).stdout).toBe(viaWrapper);
    }
  });

  it.runIf(wrapped.length > 0)('startCommand starts that program itself: the child is psql from its first moment, never perl', async () => {
    // A server that accepts and never answers: psql waits in its connection, alive, until killed.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGCONNECT_TIMEOUT: '30' };
      const running = await startCommand({ argv: ['psql', '-X', '-c', 'select 1'], env }, { mask: makeMasker([]) });
      running.stdout.resume();
      expect(await readlink(`/proc/${running.pid}/exe`)).toBe(directProgram('psql', env, path)!.file);
      running.kill('was stopped by the test');
      await expect(running.finished).rejects.toThrow(/stopped by the test/);
    } finally {
      silent.close();
    }
  });
});

// The stand-in mongodump (test/fixtures/bin), run directly with its settings file, parsed as it streams.
describe('the stand-in mongodump writes valid archives', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bin');
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mongo-archive-test-'));
    config = join(dir, 'mongo.yml');
    await writeFile(config, 'password: pw\n');
    await chmod(config, 0o600);
    await mkdir(dirname(fakeMongoSettingsPath(port)), { recursive: true });
  });
  afterAll(async () => {
    await rm(fakeMongoSettingsPath(port), { force: true });
    await rm(dir, { recursive: true, force: true });
  });

  async function dump(settings: Record<string, string | number>, gzip: boolean): Promise<{ summary: Promise<ArchiveSummary>; exit: Promise<number | null> }> {
    const lines = Object.entries({ FAKE_MONGO_PASSWORD: 'pw', ...settings }).map(([k, v]) => `${k}=${v}`);
    await writeFile(fakeMongoSettingsPath(port), lines.join('\n'));
    const child = spawn(join(bin, 'mongodump'), ['--archive', ...(gzip ? ['--gzip'] : []), `--port=${port}`, `--config=${config}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    return { summary: summarizeArchive(child.stdout, { gzip }), exit };
  }

  it.each([false, true])('the default content, exactly FAKE_MONGODUMP_BYTES before gzip (gzip %s)', async (gzip) => {
    const { summary, exit } = await dump({ FAKE_MONGODUMP_BYTES: 1_000_000 }, gzip);
    expect(await summary).toEqual({ collections: fakeDump(1_000_000).documents, bytes: 1_000_000 });
    expect(await exit).toBe(0);
    expect(fakeDump(1_000_000).documents).toMatchObject({ 'admin.system.version': 2, 'shop.audit_log': 0 });
  });

  it('the collections FAKE_MONGODUMP_COLLECTIONS names', async () => {
    const { summary } = await dump({ FAKE_MONGODUMP_BYTES: 300_000, FAKE_MONGODUMP_COLLECTIONS: 'shop.orders=40,shop.empty=0,crm.contacts=7' }, false);
    expect(await summary).toEqual({ collections: { 'shop.orders': 40, 'shop.empty': 0, 'crm.contacts': 7 }, bytes: 300_000 });
  });

  it.each([false, true])('FAKE_MONGODUMP_CORRUPT=crc: a complete archive with a wrong CRC (gzip %s)', async (gzip) => {
    const { summary, exit } = await dump({ FAKE_MONGODUMP_BYTES: 200_000, FAKE_MONGODUMP_CORRUPT: 'crc' }, gzip);
    await expect(summary).rejects.toThrow(/^CRC mismatch for shop\.orders/);
    await exit;
  });

  it('a dump cut by FAKE_MONGODUMP_FAIL_AFTER is truncated', async () => {
    const { summary } = await dump({ FAKE_MONGODUMP_BYTES: 500_000, FAKE_MONGODUMP_FAIL_AFTER: 123_456 }, false);
    await expect(summary).rejects.toThrow(/^archive is truncated at offset 123456/);
  });
});

// A real mongodump against a real server, if the environment has both (not on the CI machine).
const realUri = process.env.MONGO_TEST_URI;
const which = spawnSync('which', ['mongodump'], { encoding: 'utf8' });
const realMongodump = which.status === 0 && !which.stdout.includes('fixtures');
describe.runIf(realUri && realMongodump)('a real mongodump archive (MONGO_TEST_URI)', () => {
  it.each([false, true])('parses, every namespace closed with a matching CRC (gzip %s)', async (gzip) => {
    const child = spawn('mongodump', ['--archive', ...(gzip ? ['--gzip'] : []), `--uri=${realUri}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const summary = await summarizeArchive(child.stdout, { gzip });
    expect(await exit).toBe(0);
    expect(summary.bytes).toBeGreaterThan(0);
    expect(Object.values(summary.collections).every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
  });
});
