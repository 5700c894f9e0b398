// `backup-all restore NAME` and `backup-all list NAME`: read a container's backups back from S3.
//
// restore: pick the backup (--backup-id ID, or the newest one the backups log says succeeded), work out the target
// (--to URL or --to-container NAME), refuse a non-empty target without --force, then stream each object from S3
// through its decompressor into the engine's restore tool; every exit code checked, nothing on disk. One action_log
// row per restore. `--verify` restores into scratch databases on the verification server instead (see verify.ts).
import { lookup } from 'node:dns/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { activeContainers } from '../admin-db/queries.js';
import { backupLog, type LoggedBackup } from '../admin-db/restore-queries.js';
import type { AdminDb } from '../admin-db/pool.js';
import type { Config } from '../config.js';
import { findEngine } from '../engines/index.js';
import { connectionFromUrl } from '../engines/postgres.js';
import { pgSystemIdentifier } from '../restore/postgres-server.js';
import { BackupArchived, CannotStartError, ConfigError, RestoreFailed } from '../errors.js';
import type { RestoreStepContext } from '../pipeline/restore-step.js';
import { describeS3Error } from '../storage/s3-errors.js';
import { optionalAdminDb, recordAction } from '../restore/admin.js';
import { executeRestore } from '../restore/execute.js';
import { planRestore } from '../restore/plan.js';
import { backupLabel, engineOfObjects, findBackup, loggedFor, ownerFolders, resolveOwner, type BackupSource, type OwnerRequest } from '../restore/source.js';
import { containerDestination, parseTargetUrl, type RestoreDestination } from '../restore/target.js';
import { thawBackup, type ArchivedBackup, type ThawOptions } from '../restore/thaw.js';
import { verifyBackup } from '../restore/verify.js';
import { backupAccess, backupStorageClass, describeTiers, isArchiveClass, type BackupAccess } from '../storage/archive.js';
import { ADMIN_DB_NAME, ownerFolder, s3Url } from '../storage/layout.js';
import type { BackupFolder } from '../storage/listing.js';
import { createS3Client } from '../storage/s3.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { makeMasker, type Masker } from '../util/mask.js';

export interface CommandIo {
  log: Logger;
  mask: Masker;
  /** Human-readable output (stdout). */
  print: (line: string) => void;
  /** SIGTERM/SIGINT: stop the restore (its command is killed, the restore fails). */
  signal: AbortSignal;
}

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

export function stepContext(config: Config, io: CommandIo, client: S3Client, mask: Masker = io.mask): RestoreStepContext {
  return {
    client,
    bucket: config.s3.bucket,
    mask,
    log: io.log,
    deadline: Date.now() + config.timeoutMs,
    progressIntervalMs: config.progressIntervalMs,
    signal: io.signal,
  };
}

/** With --thaw: findBackup's answer to an archived backup (thaw it, wait for it). */
export function thawWith(config: Config, io: CommandIo, client: S3Client, thaw: ThawOptions | undefined): ((archived: ArchivedBackup) => Promise<void>) | undefined {
  if (!thaw) return undefined;
  const ctx = { client, bucket: config.s3.bucket, log: io.log, print: io.print, signal: io.signal, pollMs: config.progressIntervalMs };
  return (archived) => thawBackup(archived, thaw, ctx);
}

/** Lists the container's backups, turning an unreachable bucket into "could not start" (exit 3). */
async function backupsOf<T>(config: Config, what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CannotStartError || err instanceof RestoreFailed || err instanceof BackupArchived) throw err;
    throw new CannotStartError(`cannot list s3://${config.s3.bucket}/${config.s3.prefix}/: ${describeS3Error(err)}`);
  }
}

const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '') ?? text;

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
    const source = await backupsOf(config, () =>
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

    const run = await executeRestore(plan, source, stepContext(config, io, client, mask), io.print);
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
    throw new RestoreFailed(`cannot query the target ${destination.label}: ${(err as Error).message}`);
  }
}

/**
 * Is the destination the admin DB's own PostgreSQL server? By its system identifier when both answer (it survives
 * host names and ports that differ), else by address and port.
 */
async function isAdminDbServer(config: Config, destination: RestoreDestination): Promise<boolean> {
  if (destination.engine !== 'postgres') return false;
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
  return containerDestination(container, engine.configKey, config);
}

async function verifyOne(config: Config, source: BackupSource, db: AdminDb | undefined, client: S3Client, io: CommandIo): Promise<number> {
  io.print(`Verifying: a test restore into scratch databases on the verification server`);
  const outcome = await verifyBackup(source, config, stepContext(config, io, client));
  const line = `verify ${source.name} ${source.backupId}: ${outcome.status.toUpperCase()}: ${outcome.summary}`;
  io.print(line);
  const description = `verify of backup ${source.backupId} (${s3Url(config.s3.bucket, source.folder.folder)}): ${outcome.status.toUpperCase()}: ${outcome.summary}`;
  const recorded = await recordAction(db, { cId: source.cId, name: source.name, action: 'verify', description }, io);
  if (outcome.status !== 'ok') return 1;
  return recorded ? 0 : 4;
}

// ------------------------------------------------------------------------------------------------------------- list

export interface ListedBackup {
  /** The backups rows' backup_id (local time), when the log or the folder tells it. */
  backupId: string;
  /** The folder in S3 (its folder id), when the backup is there. */
  folderId?: string;
  inS3: boolean;
  bytes: number;
  /** Whether the backup has its manifest.json (identity, digests and row counts). */
  manifest: boolean;
  /** Written before the current key layout. */
  legacy: boolean;
  objects: { name: string; key: string; bytes: number; lastModified?: string; storageClass?: string }[];
  /** Its archive class when S3 has archived any object of it, else the class holding most of its bytes. */
  storageClass?: string;
  /** When S3 has archived it: can it be read now (thawed), is a copy being thawed, or does it need --thaw. */
  archive?: { state: 'archived' | 'thawing' | 'thawed'; objects: number; until?: string };
  /** From the backups log: ok, failed, started (no end row), or unlogged (S3 only). */
  status: 'ok' | 'failed' | 'started' | 'unlogged';
  backupType?: string;
  /** UTC, when the backup started: the log's start row, else what the folder tells. */
  start?: string;
  end?: string;
  errMsg?: string;
}

/**
 * S3 folders and log entries merged (a log entry belongs to the folder its url points into), newest first, with what
 * `access` tells of the archived ones (by folder id). Pure.
 */
export function mergeBackups(
  bucket: string,
  folders: readonly BackupFolder[],
  log: readonly LoggedBackup[],
  access: ReadonlyMap<string, BackupAccess> = new Map(),
): ListedBackup[] {
  const used = new Set<LoggedBackup>();
  const entries: { folder?: BackupFolder; logged?: LoggedBackup }[] = folders.map((folder) => {
    const logged = loggedFor(bucket, folder, log);
    if (logged) used.add(logged);
    return { folder, ...(logged ? { logged } : {}) };
  });
  for (const logged of log) if (!used.has(logged)) entries.push({ logged });
  const startOf = (e: (typeof entries)[number]) => (e.logged?.start ?? e.folder?.startedAt)?.getTime() ?? -Infinity;
  return entries
    .sort((a, b) => startOf(b) - startOf(a))
    .map(({ folder, logged }) => {
      const status: ListedBackup['status'] = !logged ? 'unlogged' : logged.end === undefined ? 'started' : logged.ok ? 'ok' : 'failed';
      const start = logged?.start ?? folder?.startedAt;
      const storageClass = folder ? backupStorageClass([...folder.objects, ...(folder.manifest ? [folder.manifest] : [])]) : undefined;
      const archive = folder ? archiveState(access.get(folder.folderId)) : undefined;
      return {
        backupId: logged?.backupId ?? folder?.folderId ?? '',
        ...(folder ? { folderId: folder.folderId } : {}),
        inS3: folder !== undefined,
        bytes: folder?.bytes ?? 0,
        manifest: folder?.manifest !== undefined,
        legacy: folder?.legacy ?? false,
        objects: (folder?.objects ?? []).map((o) => ({
          name: o.name,
          key: o.key,
          bytes: o.bytes,
          ...(o.lastModified ? { lastModified: o.lastModified.toISOString() } : {}),
          ...(o.storageClass ? { storageClass: o.storageClass } : {}),
        })),
        ...(storageClass ? { storageClass } : {}),
        ...(archive ? { archive } : {}),
        status,
        ...(logged?.backupType ? { backupType: logged.backupType } : {}),
        ...(start ? { start: start.toISOString() } : {}),
        ...(logged?.end ? { end: logged.end.toISOString() } : {}),
        ...(logged?.errMsg ? { errMsg: logged.errMsg } : {}),
      };
    });
}

function archiveState(access: BackupAccess | undefined): ListedBackup['archive'] {
  if (!access?.archiveClass) return undefined;
  const archived = access.blocked.filter((o) => o.state.state === 'archived').length;
  const thawing = access.blocked.length - archived;
  const inClass = access.objects.filter((o) => isArchiveClass(o.storageClass)).length;
  if (archived) return { state: 'archived', objects: archived };
  if (thawing) return { state: 'thawing', objects: thawing };
  return { state: 'thawed', objects: inClass, ...(access.thawedUntil ? { until: access.thawedUntil.toISOString() } : {}) };
}

/** The line `list` prints under an archived backup. Pure. */
export function archiveNote(b: Pick<ListedBackup, 'archive' | 'storageClass'>): string | undefined {
  const a = b.archive;
  if (!a) return undefined;
  const cls = b.storageClass ?? 'an archive storage class';
  const objects = `${a.objects} object${a.objects === 1 ? '' : 's'}`;
  switch (a.state) {
    case 'archived':
      return `archived in ${cls} (${objects}): needs --thaw to be restored or verified (S3 thaws a copy: ${isArchiveClass(cls) ? describeTiers(cls) : 'hours'})`;
    case 'thawing':
      return `archived in ${cls}: S3 is thawing a copy of ${objects}; restore or verify with --thaw waits for it`;
    case 'thawed':
      return `archived in ${cls}, thawed: readable${a.until ? ` until ${utc(a.until)}` : ''}`;
  }
}

const STATUS_TEXT: Record<ListedBackup['status'], string> = { ok: 'OK', failed: 'FAILED', started: 'NO END', unlogged: 'NOT LOGGED' };
const utc = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

export async function runList(config: Config, opts: { owner: OwnerRequest; json: boolean }, io: Omit<CommandIo, 'signal'>): Promise<number> {
  const client = createS3Client(config.s3);
  const db = await optionalAdminDb(config, io, false);
  try {
    const owner = await backupsOf(config, () => resolveOwner({ client, config, db }, opts.owner));
    const location = s3Url(config.s3.bucket, ownerFolder(config.s3.prefix, owner.segment));
    const log = db ? await backupLog(db, owner.owner.kind === 'admin-db' ? { adminDb: true, name: owner.name } : { cId: owner.cId ?? -1, name: owner.name }) : undefined;
    const folders = await backupsOf(config, () => ownerFolders({ client, config }, owner, log));
    const engine =
      owner.owner.kind === 'admin-db' ? 'Postgres' : (owner.container && findEngine(owner.container.engine)?.name) ?? engineOfObjects(folders[0]?.objects.map((o) => o.name) ?? [])?.name;
    // Only backups with objects in an archive class cost a request (HeadObject each): whether S3 has thawed them.
    const access = new Map<string, BackupAccess>();
    for (const f of folders) {
      if (![...f.objects, f.manifest].some((o) => isArchiveClass(o?.storageClass))) continue;
      access.set(f.folderId, await backupsOf(config, () => backupAccess(client, config.s3.bucket, f)));
    }
    const backups = mergeBackups(config.s3.bucket, folders, log ?? [], access);
    if (opts.json) {
      io.print(JSON.stringify({ name: owner.name, id: owner.cId, engine: engine ?? null, location, backupsLogRead: db !== undefined, backups }));
      return backups.length ? 0 : 1;
    }
    const who = owner.cId !== null ? `${owner.name} (id ${owner.cId}${engine ? `, ${engine}` : ''})` : `${owner.name}${engine ? ` (${engine})` : ''}`;
    if (backups.length === 0) {
      io.print(`No backups of ${who}: nothing in ${location}${db ? ' and no rows in the backups log' : ''}.`);
      return 1;
    }
    io.print(`Backups of ${who} in ${location}, newest first${db ? '' : ' (admin DB unreachable: S3 only)'}:`);
    const storageWidth = Math.max('STORAGE'.length, ...backups.map((b) => (b.storageClass ?? '-').length)) + 2;
    io.print(
      `${'BACKUP ID'.padEnd(22)}${'TYPE'.padEnd(8)}${'STATUS'.padEnd(12)}${'SIZE'.padStart(10)}  ${'STORAGE'.padEnd(storageWidth)}` +
        `${'STARTED (UTC)'.padEnd(22)}${'ENDED (UTC)'.padEnd(22)}FOLDER`,
    );
    for (const b of backups) {
      io.print(
        `${b.backupId.padEnd(22)}${(b.backupType ?? '-').padEnd(8)}${STATUS_TEXT[b.status].padEnd(12)}${(b.inS3 ? formatBytes(b.bytes) : 'not in S3').padStart(10)}  ` +
          `${(b.storageClass ?? '-').padEnd(storageWidth)}${utc(b.start).padEnd(22)}${utc(b.end).padEnd(22)}${b.folderId ?? '-'}${b.legacy ? ' (legacy layout)' : ''}`,
      );
      const archive = archiveNote(b);
      if (archive) io.print(`    ${archive}`);
      if (b.errMsg) io.print(`    ${firstLine(b.errMsg)}`);
      for (const o of b.objects) io.print(`    ${o.name.padEnd(40)} ${formatBytes(o.bytes).padStart(10)}${o.storageClass ? `  ${o.storageClass}` : ''}`);
      if (b.inS3) io.print(`    ${b.manifest ? 'manifest.json: identity, SHA-256 per object, rows per table' : '(no manifest)'}`);
    }
    return 0;
  } finally {
    client.destroy();
    await db?.end().catch(() => {});
  }
}
