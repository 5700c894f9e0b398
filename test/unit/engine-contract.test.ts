// Every engine in ENGINES walked through the same contract, without servers or processes: its dump commands keep
// secrets out of argv, its objects are its own and restore as they were compressed, each restore step can tell a
// truncated object, its counter counts a dump of its own format, its settings are in the configuration, its URLs come
// back to it, and its restore plan, against a fake target server, refuses a non-empty target and undoes what it
// created; its verification reports what came back and leaves no scratch database, whether it passes or fails. A
// fourth engine added to ENGINES is held to all of it (and needs a sample dump below).
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { StreamRowCounter } from '../../src/counts/stream.js';
import { compressionOf } from '../../src/engines/compression.js';
import { ENGINES, engineOfObjects, type Engine } from '../../src/engines/index.js';
import { compressionChoices, dumpCompression, engineEnvNames } from '../../src/engines/settings.js';
import type { Command, DatabaseStats, DumpSource, DumpStep, EngineRestoreRequest, RestorePlan, TargetServer, VerifyBackup, VerifyIo } from '../../src/engines/types.js';
import { parseDbUrl } from '../../src/engines/url.js';
import { ConfigError } from '../../src/errors.js';
import { parseTargetUrl } from '../../src/restore/target.js';
import { targetServer } from '../../src/restore/target-servers.js';
import { archiveBuffer } from '../fixtures/mongo-archive-writer.mjs';
import { PASSWORD, container, restoreTo } from '../helpers/engine-sources.js';

/** What a source server answers an engine that dumps per database: two databases. */
const DATABASES = [{ name: 'shop', size: 1000 }, { name: 'other db', size: 5 }];

/** A small dump of each engine's own format, as its dump command writes it, and the counts it holds. */
const SAMPLE_DUMPS: Record<string, { dump: Buffer; counts: Record<string, Record<string, number>> }> = {
  mariadb: {
    dump: Buffer.from(
      [
        '-- MariaDB dump 10.19',
        '-- Current Database: `shop`',
        'USE `shop`;',
        '-- Dumping data for table `orders`',
        "INSERT INTO `orders` VALUES (1,'a'),(2,'b;(c)');",
        '-- Dump completed on 2026-12-01 02:00:07',
        '',
      ].join('\n'),
    ),
    counts: { shop: { orders: 2 } },
  },
  mongodb: {
    dump: archiveBuffer([{ db: 'shop', collection: 'orders', docs: [{ _id: 1 }, { _id: 2 }, { _id: 3 }] }]),
    counts: { shop: { orders: 3 } },
  },
};

/** The server a backup dumps; `password` null: none configured. */
const sourceFor = (engine: Engine, setting: string, password: string | null = PASSWORD): DumpSource => ({
  container: container('shop', engine.name),
  host: 'db.internal',
  port: 32015,
  user: 'admin',
  ...(password !== null ? { password } : {}),
  ...dumpCompression(engine, setting),
});

/** Every command of one backup with the engine's compression setting. */
const dumpCommands = (engine: Engine, setting: string, password?: string | null): Command[] => {
  const source = sourceFor(engine, setting, password);
  return engine.dumpSteps(source, DATABASES).map((s) => s.command);
};

/** Every step of one backup with the engine's compression setting. */
const dumpStepsFor = (engine: Engine, setting: string): DumpStep[] => engine.dumpSteps(sourceFor(engine, setting), DATABASES);

/** Everything of a command the child is told, but its secrets. */
const shown = (c: Command) => JSON.stringify([c.argv, c.env ?? {}]);
/** What carries the secret to the child. */
const secretCarriers = (c: Command) => JSON.stringify([c.secretEnv ?? {}, c.configFile?.content ?? '']);

/** A target server that answers from memory and records what is done to it. */
class FakeServer implements TargetServer {
  readonly conn = { ...restoreTo };
  readonly held: Map<string, number>;
  readonly created: string[] = [];
  readonly dropped: string[] = [];
  constructor(databases: Record<string, number> = {}) {
    this.held = new Map(Object.entries(databases));
  }
  ping = async () => {};
  dropDatabase = async (db: string) => {
    this.dropped.push(db);
    this.held.delete(db);
  };
  databaseStats = async (db: string, label = db): Promise<DatabaseStats> => ({ database: label, tables: [], rows: 0, largeObjects: 0 });
  databaseState = async (db: string) => ({ exists: this.held.has(db), tables: this.held.get(db) ?? 0 });
  createDatabase = async (db: string) => {
    this.created.push(db);
    this.held.set(db, 0);
  };
  userDatabases = async () => new Map(this.held);
  databases = async () => [...this.held.keys()].map((name) => ({ name, size: 1 }));
  roles = async () => ['postgres'];
  dropRole = async () => {};
}

function restoreRequest(engine: Engine, overrides: Partial<EngineRestoreRequest> = {}): EngineRestoreRequest {
  const steps = dumpStepsFor(engine, engine.settings.defaultCompression);
  const databaseOf = new Map(steps.map((s) => [s.objectName, s.database ?? s.objectName]));
  return {
    objectNames: steps.map((s) => s.objectName),
    databaseOf: (o) => databaseOf.get(o) ?? o,
    backup: "backup 2026-12-01_02:00:07 of 'shop'",
    conn: { ...restoreTo },
    target: 'the target',
    force: false,
    ...overrides,
  };
}

/** The plan, or the ConfigError it refused with; the server only when the engine names a way to reach one. */
async function plan(engine: Engine, server: FakeServer, overrides: Partial<EngineRestoreRequest> = {}): Promise<RestorePlan | ConfigError> {
  return engine.planRestore(restoreRequest(engine, overrides), engine.server ? server : undefined).catch((err: unknown) => {
    if (err instanceof ConfigError) return err;
    throw err;
  });
}

const SCRATCH = 'mydbverify_20261201t020007z_ab12';

/**
 * What restore/ hands a verification, in memory: reading an object succeeds (with the counts of the engine's sample
 * dump) or fails at `failAt` (the object's name). A restore step that renames the databases it loads (a filter, as
 * MariaDB's whole-server dump has) makes one under the scratch prefix on the server, as the real stream would.
 */
function fakeVerifyIo(engine: Engine, server: FakeServer, failAt?: string): VerifyIo & { notDroppedDatabases: string[] } {
  const notDroppedDatabases: string[] = [];
  const failed = (objectName: string) => new Error(`the object ${objectName} is truncated`);
  return {
    scratch: SCRATCH,
    notDroppedDatabases,
    streamInto: async (step) => {
      if (step.filter) server.held.set(`${SCRATCH}_shop`, 1);
      if (step.objectName === failAt) throw failed(step.objectName);
      return 100;
    },
    readThrough: async (objectName) => {
      if (objectName === failAt) throw failed(objectName);
      const sample = SAMPLE_DUMPS[engine.key];
      return { bytes: 100, ...(sample ? { counts: sample.counts } : {}) };
    },
    notDropped: (database) => void notDroppedDatabases.push(database),
  };
}

/** The backup of restoreRequest, as a verification reads it. */
const verifyBackup = (engine: Engine, objectNames = restoreRequest(engine).objectNames): VerifyBackup => ({
  ...restoreRequest(engine),
  objectNames,
});

/** Runs the engine's verification; resolves to what it reported, or the error it failed with. */
async function verify(engine: Engine, server: FakeServer, io: VerifyIo, backup = verifyBackup(engine)): Promise<DatabaseStats[] | Error> {
  const stats: DatabaseStats[] = [];
  return engine.verification
    .run(backup, engine.settings.verifyServer ? server : undefined, io, stats)
    .then(() => stats)
    .catch((err: unknown) => err as Error);
}

const scratchLeft = (server: FakeServer) => [...server.held.keys()].filter((db) => db.startsWith(SCRATCH));

describe.each(ENGINES.map((engine) => [engine.name, engine] as const))('%s', (_name, engine) => {
  const settings = compressionChoices(engine);

  describe('dump commands', () => {
    it.each(settings)('with compression %s: no secret in argv or env, the password in secretEnv or a config file', (setting) => {
      const commands = dumpCommands(engine, setting);
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands) {
        expect(shown(command)).not.toContain(PASSWORD);
        expect(shown(command)).not.toContain('pa ss');
      }
      // A password of plain characters shows up as it is wherever the engine carries it: in every command.
      for (const command of dumpCommands(engine, setting, 'Plain-Secret-1')) {
        expect(shown(command)).not.toContain('Plain-Secret-1');
        expect(secretCarriers(command)).toContain('Plain-Secret-1');
      }
    });

    it('without a password, no secret carrier', () => {
      for (const command of dumpCommands(engine, 'none', null)) {
        expect(command.secretEnv ?? {}).toEqual({});
        expect(command.configFile).toBeUndefined();
      }
    });
  });

  it('dumping per database: its server protocol can list the databases, and each becomes a step of its own', () => {
    const steps = dumpStepsFor(engine, engine.settings.defaultCompression);
    if (!engine.dumpsPerDatabase) {
      expect(steps.filter((s) => s.database !== undefined)).toEqual([]);
      return;
    }
    // Not connected: only asked whether the protocol answers the question the backup asks first.
    expect(typeof targetServer(engine, restoreTo, { mask: (t) => t })?.databases).toBe('function');
    expect(steps.filter((s) => s.database !== undefined).map((s) => s.database)).toEqual(DATABASES.map((d) => d.name));
  });

  describe('objects', () => {
    it.each(settings)('with compression %s: its own, no other engine\'s, and restored as they were compressed', (setting) => {
      const steps = dumpStepsFor(engine, setting);
      const names = steps.map((s) => s.objectName);
      expect(engine.ownsObjects(names)).toBe(true);
      expect(engineOfObjects(names)).toBe(engine);
      for (const other of ENGINES.filter((e) => e !== engine)) expect(other.ownsObjects(names), `${other.name} claims ${names.join(', ')}`).toBe(false);
      const restored = engine.restoreSteps(names, restoreTo);
      for (const step of steps) {
        const back = restored.find((r) => r.objectName === step.objectName);
        expect(back, `no restore step for ${step.objectName}`).toBeDefined();
        expect(back?.compression).toBe(step.compression);
        // The suffix says what the pipeline applied, or the dump tool's own compression (then the pipeline adds none).
        if (step.compression !== 'none') expect(compressionOf(step.objectName)).toBe(step.compression);
      }
    });

    it('each restore step can tell a truncated object: a completion marker, or what else notices', () => {
      const names = dumpStepsFor(engine, engine.settings.defaultCompression).map((s) => s.objectName);
      const steps = engine.restoreSteps(names, restoreTo);
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        expect(step.completionMarker ?? step.truncationCheck, step.objectName).toMatch(/\S/);
        expect(shown(step.command)).not.toContain(PASSWORD);
      }
    });
  });

  describe('row counting', () => {
    it.each(settings)('with compression %s: counted in a snapshot, or by a counter of the dump stream', async (setting) => {
      for (const step of dumpStepsFor(engine, setting)) {
        const counting = step.rowCounting;
        if (counting === undefined) continue;
        if (counting.kind === 'snapshot') {
          // The dump command is told the snapshot the rows are counted in.
          expect(counting.snapshotArgs('00000003-1').join(' ')).toContain('00000003-1');
          expect(counting.database).toBe(step.database);
          continue;
        }
        const sample = SAMPLE_DUMPS[engine.key];
        expect(sample, `a sample dump of ${engine.name} in SAMPLE_DUMPS`).toBeDefined();
        // The counter reads the dump command's output: gzipped when the tool compressed it itself.
        const toolGzipped = step.compression === 'none' && compressionOf(step.objectName) === 'gzip';
        const dump = toolGzipped ? gzipSync(sample!.dump) : sample!.dump;
        const counter: StreamRowCounter = counting.counter();
        for (let i = 0; i < dump.length; i += 7) counter.push(dump.subarray(i, i + 7));
        expect(await counter.end()).toEqual(sample!.counts);
      }
      expect(dumpStepsFor(engine, setting).some((s) => s.rowCounting !== undefined)).toBe(true);
    });
  });

  describe('settings', () => {
    const base = { SQLALCHEMY_ADMIN_URI: 'postgresql://u:adminpw@h/db', AWS_BUCKET_NAME: 's3://bucket-1' };
    const names = engineEnvNames(engine);

    it('its account: user, default user, password (a secret)', () => {
      expect(loadConfig(base).credentials[engine.key]).toEqual({ user: engine.settings.defaultUser });
      const c = loadConfig({ ...base, [names.user]: 'contract-user', [names.password]: 'contract-pw' });
      expect(c.credentials[engine.key]).toEqual({ user: 'contract-user', password: 'contract-pw' });
      expect(c.secrets).toContain('contract-pw');
    });

    it('its compression: each choice, the default, and nothing else', () => {
      expect(loadConfig(base).compression[engine.key]).toBe(engine.settings.defaultCompression);
      for (const setting of settings) expect(loadConfig({ ...base, [names.compress]: setting.toUpperCase() }).compression[engine.key]).toBe(setting);
      expect(() => loadConfig({ ...base, [names.compress]: 'lz4' })).toThrow(`${names.compress} expected one of ${settings.join(', ')}`);
    });

    it('its verification server, if it has one: the URL parses back to the engine, its password a secret', () => {
      const { verifyUrl } = names;
      expect(verifyUrl !== undefined).toBe(engine.settings.verifyServer);
      if (verifyUrl === undefined) return;
      for (const scheme of engine.urls.schemes) {
        const c = loadConfig({ ...base, [verifyUrl]: `${scheme}+driver://v:verify-pw@verify:1234/maint` });
        const url = c.verify.servers[engine.key];
        expect(url).toBe(`${engine.urls.schemes[0]}://v:verify-pw@verify:1234/maint`);
        expect(parseTargetUrl(url!, c.credentials).engine).toBe(engine);
        expect(c.secrets).toContain('verify-pw');
      }
      const other = ENGINES.find((e) => e !== engine)!;
      expect(() => loadConfig({ ...base, [verifyUrl]: `${other.urls.schemes[0]}://h` })).toThrow(verifyUrl);
    });
  });

  describe('URLs', () => {
    it('each scheme is its own and no other engine\'s; the default port', () => {
      for (const scheme of engine.urls.schemes) {
        const url = parseDbUrl(`${scheme.toUpperCase()}://h/x`, ENGINES);
        expect(url.engine).toBe(engine);
        expect(url.conn.port).toBe(engine.urls.defaultPort);
        expect(url.database).toBe(engine.urls.pathIsDatabase ? 'x' : undefined);
      }
    });
  });

  describe('restore plan, against a fake target server', () => {
    it('refuses a non-empty target without --force', async () => {
      const refused = await plan(engine, new FakeServer({ shop: 3, 'other db': 2 }));
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as Error).message).toMatch(/--force/);
    });

    it('with --force, plans every object of the backup', async () => {
      const planned = await plan(engine, new FakeServer({ shop: 3, 'other db': 2 }), { force: true });
      expect(planned).not.toBeInstanceOf(ConfigError);
      const names = restoreRequest(engine).objectNames;
      expect((planned as RestorePlan).steps.map((s) => s.objectName).sort()).toEqual([...names].sort());
    });

    it.each([
      ['the whole backup', {}],
      ['one database, renamed', { database: 'shop', into: 'shop_copy' }],
    ])('%s into an empty server: undo drops what the plan created, nothing else', async (_what, overrides: Partial<EngineRestoreRequest>) => {
      const server = new FakeServer({ unrelated: 0 });
      const planned = await plan(engine, server, { force: !engine.server, ...overrides });
      if (planned instanceof ConfigError) {
        // Only an engine that cannot pick one database may refuse, and it says so.
        expect(planned.message).toMatch(/not supported/);
        return;
      }
      await planned.prepare();
      // The restore loads the databases it names (and an engine that restores a whole server knows no names).
      for (const db of planned.databases) if (!server.held.has(db)) server.held.set(db, 1);
      const before = [...server.created];
      await planned.undo();
      expect(server.dropped.sort()).toEqual(planned.databases.filter((db) => db !== 'unrelated').sort());
      expect([...server.held.keys()]).toEqual(['unrelated']);
      expect(before.every((db) => server.dropped.includes(db))).toBe(true);
    });
  });
});

describe.each(ENGINES.map((engine) => [engine.name, engine] as const))('%s: its verification, against a fake server', (_name, engine) => {
  it('reports what came back, and leaves no scratch database behind', async () => {
    const server = new FakeServer({ unrelated: 1 });
    const io = fakeVerifyIo(engine, server);
    const stats = await verify(engine, server, io);
    expect(stats).not.toBeInstanceOf(Error);
    expect((stats as DatabaseStats[]).length).toBeGreaterThan(0);
    expect(scratchLeft(server)).toEqual([]);
    expect(io.notDroppedDatabases).toEqual([]);
    expect(server.held.get('unrelated')).toBe(1);
  });

  it.each(restoreRequest(engine).objectNames)('fails when reading %s fails, and drops every scratch database it made', async (objectName) => {
    const server = new FakeServer({ unrelated: 1 });
    const failed = await verify(engine, server, fakeVerifyIo(engine, server, objectName));
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain(`the object ${objectName} is truncated`);
    expect(scratchLeft(server)).toEqual([]);
    expect(server.created.every((db) => server.dropped.includes(db))).toBe(true);
    expect([...server.held.keys()]).toEqual(['unrelated']);
  });

  it('refuses a backup that holds none of its objects, saying what it holds', async () => {
    const server = new FakeServer();
    const refused = await verify(engine, server, fakeVerifyIo(engine, server), verifyBackup(engine, ['notes.txt']));
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/holds no .*notes\.txt/);
    expect(server.created).toEqual([]);
  });
});

describe('ENGINES', () => {
  it('keys, names and schemes are each one engine\'s', () => {
    const all = (pick: (e: Engine) => readonly string[]) => ENGINES.flatMap(pick);
    for (const values of [all((e) => [e.key]), all((e) => [e.name.toLowerCase(), ...e.aliases]), all((e) => e.urls.schemes)]) {
      expect(new Set(values).size).toBe(values.length);
    }
  });
});
