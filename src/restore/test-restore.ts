// A test restore: the backup goes into scratch databases on the verification server configured for its engine, is
// counted (tables, rows per table, large objects), and the scratch databases are dropped whatever happened.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminDb } from '../admin-db/pool.js';
import type { Config } from '../config.js';
import type { Engine } from '../engines/index.js';
import { engineEnvNames } from '../engines/settings.js';
import type { DatabaseStats, VerifyIo } from '../engines/types.js';
import { readObjectThrough, streamObjectToCommand, type RestoreStepContext } from '../pipeline/restore-step.js';
import type { RowCounts } from '../counts/types.js';
import { manifestRows } from '../storage/manifest.js';
import { formatBytes, formatDuration } from '../util/format.js';
import { backupLabel, databaseOf, loadManifest, objectRef, type BackupSource } from './source.js';
import { verifyServer } from './target.js';
import { targetServer } from './target-servers.js';
import { recordAction } from './action-log.js';
import { s3Url } from '../storage/layout.js';
import type { Masker } from '../util/mask.js';
import { errorText } from '../errors.js';
import { monotonicNow, msSince } from '../util/time.js';

export type VerifyStatus = 'ok' | 'failed' | 'skipped';

export interface VerifyOutcome {
  name: string;
  backupId: string;
  engine: string;
  status: VerifyStatus;
  /** One line: what came back, or why the verification failed or could not run. */
  summary: string;
  databases: DatabaseStats[];
  bytes: number;
  durationMs: number;
}

const pad = (n: number) => String(n).padStart(2, '0');
const fmt = (n: number) => n.toLocaleString('en-US');

/** `mydbverify_20250301T020007_a1b2`: scratch names say what they are and when they were made (UTC). */
export function scratchBase(now = new Date()): string {
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}T${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `mydbverify_${stamp}_${randomBytes(2).toString('hex')}`;
}

/** What came back, in one line: `2 databases, 5 tables, 4,512 rows, 3 large objects (shop: 2 tables, 4,000 rows; …)`. */
export function describeStats(stats: readonly DatabaseStats[], what: 'table' | 'collection' = 'table'): string {
  const tables = stats.reduce((n, s) => n + s.tables.length, 0);
  const rows = stats.reduce((n, s) => n + s.rows, 0);
  const lo = stats.reduce((n, s) => n + s.largeObjects, 0);
  const [t, r] = what === 'table' ? ['tables', 'rows'] : ['collections', 'documents'];
  const per = stats.map((s) => `${s.database}: ${s.tables.length} ${t}, ${fmt(s.rows)} ${r}${s.largeObjects ? `, ${fmt(s.largeObjects)} large objects` : ''}`);
  return `${stats.length} database${stats.length === 1 ? '' : 's'}, ${fmt(tables)} ${t}, ${fmt(rows)} ${r}${lo ? `, ${fmt(lo)} large objects` : ''}${per.length ? ` (${per.join('; ')})` : ''}`;
}

/** Engines verified without a server (MongoDB's archives) always can be; the others need their verification server. */
export function canVerifyEngine(config: Config, engine: Engine): boolean {
  return !engine.settings.verifyServer || verifyServer(config, engine) !== undefined;
}

export async function verifyBackup(source: BackupSource, config: Config, ctx: RestoreStepContext): Promise<VerifyOutcome> {
  const started = monotonicNow();
  const outcome = (status: VerifyStatus, summary: string, databases: DatabaseStats[] = [], bytes = 0): VerifyOutcome => ({
    name: source.name,
    backupId: source.backupId,
    engine: source.engine.name,
    status,
    summary,
    databases,
    bytes,
    durationMs: msSince(started),
  });
  const { engine } = source;
  if (!canVerifyEngine(config, engine)) {
    return outcome('skipped', `no verification server for ${engine.name}: set ${engineEnvNames(engine).verifyUrl}`);
  }
  const server = verifyServer(config, engine);
  const stats: DatabaseStats[] = [];
  let bytes = 0;
  try {
    // The nightly sample's sources come from the run's results: their manifest is read here (findBackup's already is).
    if (!source.manifest) {
      const manifest = await loadManifest(ctx.client, ctx.bucket, source, source.folder, ctx.signal);
      if (manifest) source = { ...source, manifest };
    }
    const read = source;
    const io: VerifyIo = {
      streamInto: async (step) => (await streamObjectToCommand(step, objectRef(read, step.objectName), ctx)).bytes,
      readThrough: (objectName, reading, counter) => readObjectThrough(reading, objectRef(read, objectName), ctx, counter),
      scratch: scratchBase(),
      notDropped: (database, err) => ctx.log.error({ database, err: ctx.mask(errorText(err)) }, 'could not drop a scratch database'),
    };
    const backup = { objectNames: read.folder.objects.map((o) => o.name), databaseOf: (o: string) => databaseOf(read, o), backup: `backup ${backupLabel(read)}` };
    const target = server && targetServer(engine, server.conn, { maintenanceDb: server.maintenanceDb, mask: ctx.mask });
    bytes = await engine.verification.run(backup, target, io, stats);
  } catch (err) {
    return outcome('failed', ctx.mask(errorText(err)), stats, bytes);
  }
  const { unit: what, ignoreDatabases = [], note } = engine.verification;
  const tables = stats.reduce((n, s) => n + s.tables.length, 0);
  if (tables === 0) return outcome('failed', `the restore succeeded but no ${what} came back (${describeStats(stats, what)})`, stats, bytes);
  const expected = source.manifest ? manifestRows(source.manifest.objects) : undefined;
  let counts: string;
  if (expected) {
    const problems = compareRowCounts(expected, stats, ignoreDatabases);
    if (problems.length) {
      const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; and ${problems.length - 10} more` : '');
      return outcome('failed', `the rows restored differ from those the backup counted: ${shown}`, stats, bytes);
    }
    counts = `${what === 'table' ? 'rows per table' : 'documents per collection'} as the backup counted them`;
  } else {
    counts = source.manifest ? `the backup counted no rows (${source.manifest.objects.find((o) => o.rowsError)?.rowsError ?? 'counting was off'})` : 'the backup has no manifest (made before manifests): rows not compared';
  }
  const via = note ? `; ${note}` : '';
  return outcome('ok', `${describeStats(stats, what)}${via}; ${counts}; read ${formatBytes(bytes)} in ${formatDuration(msSince(started))}`, stats, bytes);
}

/**
 * What the backup counted against what came back: every table counted with rows must be there with as many.
 * Tables the backup did not count (or counted empty and that are not there) are not held against it. Pure.
 */
export function compareRowCounts(expected: RowCounts, stats: readonly DatabaseStats[], ignoreDatabases: readonly string[] = []): string[] {
  const problems: string[] = [];
  for (const [database, tables] of Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (ignoreDatabases.includes(database)) continue;
    const restored = stats.find((s) => s.database === database);
    for (const [table, rows] of Object.entries(tables).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const got = restored?.tables.find((t) => t.table === table);
      if (!got) {
        if (rows > 0) problems.push(`${database}: ${table} (${fmt(rows)} rows) did not come back`);
      } else if (got.rows !== rows) {
        problems.push(`${database}: ${table} has ${fmt(got.rows)} rows, the backup counted ${fmt(rows)}`);
      }
    }
  }
  return problems;
}

/** Least recently verified first (never verified before all), then by name: the rotation. Pure. */
export function rotate<T extends { name: string }>(items: readonly T[], last: ReadonlyMap<string, Date>, n: number): T[] {
  const time = (name: string) => last.get(name)?.getTime() ?? -Infinity;
  return [...items].sort((a, b) => time(a.name) - time(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, n);
}

/** A test restore, logged and recorded in action_log (a skipped one is not: nothing was verified). */
export async function verifyAndRecord(config: Config, source: BackupSource, db: AdminDb | undefined, ctx: RestoreStepContext, io: { log: Logger; mask: Masker }): Promise<VerifyOutcome> {
  const outcome = await verifyBackup(source, config, ctx);
  io.log[outcome.status === 'failed' ? 'error' : 'info'](
    { container: source.name, backupId: source.backupId, folder: source.folder.folderId, status: outcome.status, durationMs: outcome.durationMs },
    `verify ${outcome.status}: ${outcome.summary}`,
  );
  if (outcome.status !== 'skipped') {
    const description = `verify of backup ${backupLabel(source)} (${s3Url(config.s3.bucket, source.folder.folder)}): ${outcome.status.toUpperCase()}: ${outcome.summary}`;
    await recordAction(db, { cId: source.cId, name: source.name, action: 'verify', description }, io);
  }
  return outcome;
}

export const outcomeLine = (o: VerifyOutcome) => `${o.status.toUpperCase().padEnd(7)} ${o.name} ${o.backupId}: ${o.summary}`;

/** A word as the shell reads it back (quoted when it must be). */
export const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** `in GLACIER, not readable without a thaw (backup-all verify NAME --backup-id FOLDER --thaw)`. Pure. */
export function archivedLine(who: string, backup: { folderId: string; archiveClass?: string }): string {
  return `in ${backup.archiveClass ?? 'an archive storage class'}, not readable without a thaw (backup-all verify ${who} --backup-id ${backup.folderId} --thaw)`;
}
