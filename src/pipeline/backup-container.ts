// One container's backup, start to end: resolve its engine, list what to dump, write the 'start' row, stream each
// object into S3, write the 'end' row. A failure anywhere fails this container only, and leaves no object behind.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Container } from '../admin-db/container-info.js';
import type { BackupRow } from '../admin-db/queries.js';
import type { Config } from '../config.js';
import { findEngine, type DumpStep, type Engine, type Target } from '../engines/index.js';
import { safeSegment } from '../engines/names.js';
import { BackupFailed } from '../errors.js';
import type { BackupType } from '../plan.js';
import { backupFolder, deleteObjects, s3Url } from '../storage/s3.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import type { Masker } from '../util/mask.js';
import { formatBackupId } from '../util/time.js';
import { captureCommand, renderCommand } from './command.js';
import { mibPerSecond, streamStepToS3 } from './stream-step.js';

export interface BackupDeps {
  config: Config;
  client: S3Client;
  mask: Masker;
  log: Logger;
  signal: AbortSignal;
  /** Writes one backups row; never throws (rows that cannot be written are logged whole). */
  recordRow: (row: BackupRow) => Promise<void>;
  now?: () => Date;
}

export interface BackupResult {
  name: string;
  cId: number | null;
  backupType: BackupType;
  backupId: string;
  url: string;
  command: string;
  ok: boolean;
  /** err_msg as written to the backups row ('' on success). */
  errMsg: string;
  bytes: number;
  durationMs: number;
  objects: { key: string; bytes: number; sha256: string }[];
}

const ERR_MSG_MAX = 2000;

export function errMsgOf(err: unknown, mask: Masker): string {
  const message = err instanceof Error ? err.message : String(err);
  const tail = err instanceof BackupFailed && err.stderrTail && !message.includes(err.stderrTail) ? `\n${err.stderrTail}` : '';
  return mask(`ERROR: ${message}${tail}`).slice(0, ERR_MSG_MAX);
}

/**
 * What a container resolves to: its engine and how to reach it, or why it cannot be backed up. `backupId` names the
 * backup's objects (MariaDB's carry it); the default, now, suits callers that only print a plan.
 */
export function resolveTarget(
  container: Container,
  config: Config,
  backupId: string = formatBackupId(new Date()),
): { engine: Engine; target: Target } {
  if (container.problem) throw new BackupFailed(`container ${container.name}: ${container.problem}`);
  const engine = findEngine(container.engine);
  if (!engine) {
    throw new BackupFailed(`container ${container.name}: unknown dbengine '${container.engine}' (expected Postgres, MariaDB or MongoDB)`);
  }
  const credentials = config.credentials[engine.configKey];
  return {
    engine,
    target: {
      container,
      host: config.dbHost,
      port: container.port,
      user: credentials.user,
      ...(credentials.password ? { password: credentials.password } : {}),
      compression: config.compression[engine.configKey],
      backupId,
    },
  };
}

/** The steps of a backup, after asking the server what it holds (PostgreSQL: its databases). */
export async function planSteps(engine: Engine, target: Target, deps: Pick<BackupDeps, 'config' | 'mask'>): Promise<DumpStep[]> {
  const inventory = engine.inventory?.(target);
  const output = inventory
    ? await captureCommand(inventory, { mask: deps.mask, timeoutMs: Math.min(deps.config.stallTimeoutMs, 120_000), what: `listing on port ${target.port}:` })
    : '';
  return engine.dumpSteps(target, output);
}

export async function backupContainer(container: Container, backupType: BackupType, deps: BackupDeps): Promise<BackupResult> {
  const { config, mask } = deps;
  const started = (deps.now ?? (() => new Date()))();
  const backupId = formatBackupId(started);
  const folder = backupFolder(config.s3.prefix, safeSegment(container.name), backupId);
  const log = deps.log.child({ container: container.name, backupId, backupType });
  const result: BackupResult = {
    name: container.name,
    cId: container.id,
    backupType,
    backupId,
    url: s3Url(config.s3.bucket, folder),
    command: '',
    ok: false,
    errMsg: '',
    bytes: 0,
    durationMs: 0,
    objects: [],
  };
  const row = (state: 'start' | 'end'): BackupRow => ({
    cId: result.cId,
    name: result.name,
    state,
    backupId,
    backupType,
    url: result.url,
    command: result.command,
    errMsg: state === 'end' ? result.errMsg : '',
  });

  let startWritten = false;
  try {
    if (deps.signal.aborted) throw new BackupFailed('interrupted');
    const { engine, target } = resolveTarget(container, config, backupId);
    result.command = engine.inventory ? renderCommand(engine.inventory(target), mask) : '';
    const steps = await planSteps(engine, target, deps);
    result.command = steps.map((s) => `${renderCommand(s.command, mask)} > ${s.objectName}`).join(' ; ');
    if (steps.length === 1 && steps[0]) result.url = s3Url(config.s3.bucket, folder + steps[0].objectName);
    await deps.recordRow(row('start'));
    startWritten = true;
    log.info({ url: result.url, objects: steps.length }, 'backup started');

    for (const step of steps) {
      const key = folder + step.objectName;
      const out = await streamStepToS3(step, key, {
        client: deps.client,
        s3: config.s3,
        mask,
        log,
        stallTimeoutMs: config.stallTimeoutMs,
        deadline: started.getTime() + config.timeoutMs,
        progressIntervalMs: config.progressIntervalMs,
        signal: deps.signal,
      });
      result.objects.push({ key, bytes: out.bytes, sha256: out.sha256 });
      result.bytes += out.bytes;
      log.info({ key, bytes: out.bytes, parts: out.parts, sha256: out.sha256, mibps: mibPerSecond(out.bytes, out.durationMs) }, 'object uploaded');
    }
    result.ok = true;
  } catch (err) {
    result.errMsg = errMsgOf(err, mask);
    if (result.objects.length) {
      // A half backup must not look like one: remove what this backup already completed.
      await deleteObjects(deps.client, config.s3.bucket, result.objects.map((o) => o.key)).catch((e: unknown) =>
        log.error({ err: mask(String(e)) }, 'could not delete the objects of the failed backup'),
      );
      result.objects = [];
    }
  }
  result.durationMs = Date.now() - started.getTime();
  if (!startWritten) await deps.recordRow(row('start'));
  await deps.recordRow(row('end'));
  if (result.ok) {
    log.info(
      { url: result.url, bytes: result.bytes, durationMs: result.durationMs, mibps: mibPerSecond(result.bytes, result.durationMs) },
      `backup done: ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`,
    );
  } else {
    log.error({ url: result.url, err: result.errMsg, durationMs: result.durationMs }, 'backup failed');
  }
  return result;
}
