// `backup-all restore NAME | --admin-db`: pick the backup (--backup-id ID, or the newest one the backups log says
// succeeded), work out the target (--to URL or --to-container NAME), refuse a non-empty target without --force, then
// stream each object from S3 through its decompressor into the engine's restore tool; every exit code checked, nothing
// on disk. One action_log row per attempt. `--verify` restores into scratch databases on the verification server
// instead (restore/test-restore.ts).
import { lookup } from 'node:dns/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { activeContainers } from '../admin-db/queries.js';
import type { AdminDb } from '../admin-db/pool.js';
import type { Config } from '../config.js';
import { findEngine } from '../engines/index.js';
import { connectionFromUrl, postgres } from '../engines/postgres.js';
import { pgSystemIdentifier } from '../restore/postgres-server.js';
import { BackupArchived, CannotStartError, ConfigError, errorText, RestoreFailed } from '../errors.js';
import { restoreStepContext } from '../pipeline/restore-step.js';
import { optionalAdminDb, recordAction } from '../restore/action-log.js';
import { executeRestore } from '../restore/execute.js';
import { planRestore } from '../restore/plan.js';
import { backupLabel, findBackup, type BackupSource, type OwnerRequest } from '../restore/source.js';
import { containerDestination, parseTargetUrl, type RestoreDestination } from '../restore/target.js';
import { thawBackup, type ArchivedBackup, type ThawOptions } from '../restore/thaw.js';
import { verifyBackup } from '../restore/test-restore.js';
import { ADMIN_DB_NAME, s3Url } from '../storage/layout.js';
import { createS3Client } from '../storage/s3.js';
import { firstLine, formatBytes, formatDuration } from '../util/format.js';
import { makeMasker } from '../util/mask.js';
import { orCannotStart, type CommandIo } from './context.js';


export interface RestoreOptions {
  /** Whose backup: a container by name (and id when the name stands for several), or the admin DB's own. */
  owner: OwnerRequest;
  /** A backup_id, or 'latest' (the default). */
  backupId?: string;
  /** Only this database of the backup (its name at backup time). */
  database?: string;
  /** postgresql://… | mariadb://… | mongodb://… */
  to?: string;
  /** An active container (the configured DB host, its Port). */
  toContainer?: string;
  force: boolean;
  /** Restore into scratch databases on the verification server, count, drop. */
  verify: boolean;
  /** Allow a target that is the admin DB's own server. */
  adminDbServer?: boolean;
  /** An archived backup: ask S3 to thaw it and wait (--thaw); without, it is refused. */
  thaw?: ThawOptions;
}

/** With --thaw: findBackup's answer to an archived backup (thaw it, wait for it). */
export function thawWith(config: Config, io: CommandIo, client: S3Client, thaw: ThawOptions | undefined): ((archived: ArchivedBackup) => Promise<void>) | undefined {
  if (!thaw) return undefined;
  const ctx = { client, bucket: config.s3.bucket, log: io.log, print: io.print, signal: io.signal, pollMs: config.progressIntervalMs };
  return (archived) => thawBackup(archived, thaw, ctx);
}

export async function runRestore(config: Config, opts: RestoreOptions, io: CommandIo): Promise<number> {
  const targets = [opts.to, opts.toContainer].filter((t) => t !== undefined).length;
  if (opts.verify && targets > 0) throw new ConfigError('--verify restores into a scratch database on the verification server: give no --to / --to-container with it');
  if (!opts.verify && targets !== 1) {
    throw new ConfigError('say where to restore: --to postgresql://…|mariadb://…|mongodb://… or --to-container NAME (or --verify for a test restore)');
  }
  if (opts.verify && (opts.database !== undefined || opts.force)) throw new ConfigError('--database and --force do not go with --verify');

  const client = createS3Client(config.s3);
  const db = await optionalAdminDb(config, io, opts.toContainer !== undefined);
  // Every attempt gets its action_log row, refused and failed ones included: who, which backup, where, how it ended.
  let subject: { cId: number | null; name: string } =
    'adminDb' in opts.owner ? { cId: null, name: ADMIN_DB_NAME } : { cId: opts.owner.id ?? null, name: opts.owner.name };
  let what = `restore of ${'adminDb' in opts.owner ? 'the admin database' : `'${opts.owner.name}'`}${opts.backupId ? ` --backup-id ${opts.backupId}` : ''}`;
  let mask = io.mask;
  const record = (outcome: string) => recordAction(db, { ...subject, action: 'restore', description: `${what}: ${outcome}` }, { log: io.log, mask });
  try {
    const whenArchived = thawWith(config, io, client, opts.thaw);
    const source = await orCannotStart(config, () =>
      findBackup({ client, config, db }, opts.owner, opts.backupId, { withoutManifest: opts.force, ...(whenArchived ? { whenArchived } : {}) }),
    );
    subject = { cId: source.cId, name: source.name };
    what = `restore of backup ${backupLabel(source)} (${s3Url(config.s3.bucket, source.folder.folder)})`;
    io.print(
      `Backup ${backupLabel(source)} of ${source.name} (${source.engine.name}, ${source.folder.objects.length} objects, ` +
        `${formatBytes(source.folder.bytes)}) at ${s3Url(config.s3.bucket, source.folder.folder)}`,
    );
    io.print(`  chosen: ${source.reason}`);
    io.print(`  manifest: ${manifestNote(source)}`);
    if (opts.verify) return await verifyOne(config, source, db, client, io);

    const destination = opts.to
      ? parseTargetUrl(opts.to, config.credentials)
      : await containerTarget(db!, opts.toContainer!, source, config);
    mask = makeMasker([...config.secrets, ...(destination.conn.password ? [destination.conn.password] : [])]);
    what += ` into ${destination.label}`;
    if (!opts.adminDbServer && (await isAdminDbServer(config, destination))) {
      throw new ConfigError(
        `${destination.label} is the admin database's own server: restoring onto it could overwrite the admin database or its roles; ` +
          'pass --admin-db-server to mean it',
      );
    }
    const plan = await targetQuery(destination, () =>
      planRestore({ source, destination, ...(opts.database !== undefined ? { database: opts.database } : {}), force: opts.force }, mask),
    );
    const into = `${destination.label}${plan.databases.length ? ` (database${plan.databases.length > 1 ? 's' : ''} ${plan.databases.join(', ')})` : ' (whole server)'}`;
    what = `restore of backup ${backupLabel(source)} (${s3Url(config.s3.bucket, source.folder.folder)}) into ${into}`;
    io.print(`Restoring into ${into}`);
    for (const note of plan.notes) io.print(`  note: ${note}`);
    io.log.info({ container: source.name, backupId: source.backupId, target: destination.label, databases: plan.databases }, 'restore started');

    const run = await executeRestore(plan, source, restoreStepContext(config, io, client, mask), io.print);
    io.print(`Restore finished: ${formatBytes(run.bytes)} read in ${formatDuration(run.durationMs)}`);
    io.log.info({ container: source.name, backupId: source.backupId, bytes: run.bytes, durationMs: run.durationMs }, 'restore done');
    return (await record(`OK, ${formatBytes(run.bytes)} read in ${formatDuration(run.durationMs)}`)) ? 0 : 4;
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const message = mask(err.message);
    if (err instanceof ConfigError || err instanceof CannotStartError || err instanceof BackupArchived) {
      // Refused before anything was written (S3 unreachable, the backup archived): the CLI says why (exit 2, 3 or 5).
      await record(`REFUSED: ${firstLine(message)}`);
      throw err;
    }
    io.print(`Restore FAILED: ${message}`);
    const tail = err instanceof RestoreFailed && err.stderrTail && !message.includes(err.stderrTail) ? mask(err.stderrTail) : '';
    if (tail) io.print(tail.split('\n').map((l) => `  | ${l}`).join('\n'));
    io.log.error({ container: subject.name, err: message }, 'restore failed');
    await record(`FAILED: ${firstLine(message)}`);
    return 1;
  } finally {
    client.destroy();
    await db?.end().catch(() => {});
  }
}

/** What the manifest lets restore check, in one line. */
function manifestNote(source: BackupSource): string {
  if (source.manifest) return `${source.manifest.objects.length} objects listed, all present; each is checked against its SHA-256 as it is read`;
  return source.folder.legacy && !source.manifestExpected
    ? 'none (a backup made before manifests): objects are checked for size and completeness only'
    : 'MISSING (--force): restored without the size, digest and identity checks';
}

/** Questions to the target server (its roles, databases, tables): a refusal or an unreachable server is one sentence. */
async function targetQuery<T>(destination: RestoreDestination, ask: () => Promise<T>): Promise<T> {
  try {
    return await ask();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RestoreFailed) throw err;
    throw new RestoreFailed(`cannot query the target ${destination.label}: ${errorText(err)}`);
  }
}

/**
 * Is the destination the admin DB's own PostgreSQL server? By its system identifier when both answer (it survives
 * host names and ports that differ), else by address and port.
 */
async function isAdminDbServer(config: Config, destination: RestoreDestination): Promise<boolean> {
  // The admin DB is a PostgreSQL database: only a PostgreSQL target can be its server.
  if (destination.engine !== postgres) return false;
  const admin = connectionFromUrl(config.adminDbUrl);
  const [ours, theirs] = await Promise.all([pgSystemIdentifier(admin, admin.database), pgSystemIdentifier(destination.conn)]);
  if (ours && theirs) return ours === theirs;
  const addresses = async (host: string) => new Set((await lookup(host, { all: true }).catch(() => [{ address: host }])).map((a) => a.address));
  if (admin.port !== destination.conn.port) return false;
  const [a, b] = await Promise.all([addresses(admin.host), addresses(destination.conn.host)]);
  return [...a].some((x) => b.has(x));
}

async function containerTarget(db: AdminDb, name: string, source: BackupSource, config: Config): Promise<RestoreDestination> {
  const container = (await activeContainers(db)).find((c) => c.name === name);
  if (!container) throw new ConfigError(`--to-container: no active container named '${name}'`);
  if (container.problem) throw new ConfigError(`--to-container ${name}: ${container.problem}`);
  const engine = findEngine(container.engine);
  if (!engine) throw new ConfigError(`--to-container ${name}: unknown dbengine '${container.engine}'`);
  if (engine !== source.engine) throw new ConfigError(`--to-container ${name} is a ${engine.name} container; backup ${source.backupId} of '${source.name}' is ${source.engine.name}`);
  return containerDestination(container, engine, config);
}

async function verifyOne(config: Config, source: BackupSource, db: AdminDb | undefined, client: S3Client, io: CommandIo): Promise<number> {
  io.print(`Verifying: a test restore into scratch databases on the verification server`);
  const outcome = await verifyBackup(source, config, restoreStepContext(config, io, client));
  const line = `verify ${source.name} ${source.backupId}: ${outcome.status.toUpperCase()}: ${outcome.summary}`;
  io.print(line);
  const description = `verify of backup ${source.backupId} (${s3Url(config.s3.bucket, source.folder.folder)}): ${outcome.status.toUpperCase()}: ${outcome.summary}`;
  const recorded = await recordAction(db, { cId: source.cId, name: source.name, action: 'verify', description }, io);
  if (outcome.status !== 'ok') return 1;
  return recorded ? 0 : 4;
}
