// The flags of the commands, validated at the edge (zod): what program.ts parses before calling a command.
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { BACKUP_TYPES, type BackupType } from '../run/plan.js';
import type { OwnerRequest } from '../restore/source.js';
import { DEFAULT_THAW_DAYS, type ThawOptions } from '../restore/thaw.js';
import { THAW_TIERS } from '../storage/archive.js';
import { parseDuration } from '../util/duration.js';

const durationFlag = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name} expects a duration such as 90, 30s, 10m or 6h` });
        return z.NEVER;
      }
      return ms;
    });

export const runFlags = z.object({
  weekly: z.boolean().optional(),
  worker: z.boolean().optional(),
  type: z.enum(BACKUP_TYPES as [BackupType, ...BackupType[]], { message: `--type must be one of ${BACKUP_TYPES.join(', ')}` }).optional(),
  dryRun: z.boolean().optional(),
  json: z.boolean().optional(),
  concurrency: z.coerce.number({ message: '--concurrency expects a number' }).int().min(1).max(64).optional(),
  timeout: durationFlag('--timeout'),
  stallTimeout: durationFlag('--stall-timeout'),
  compress: z.enum(['none', 'gzip', 'zstd'], { message: '--compress must be none, gzip or zstd' }).optional(),
});
export type RunFlags = z.infer<typeof runFlags>;

export const acknowledgeFlags = z.object({
  id: z.coerce.number({ message: '--id expects a container id (a number)' }).int().positive('--id expects a container id').optional(),
  note: z.string().optional(),
});

const containerId = z.coerce.number({ message: '--id expects a container id (a number)' }).int().positive('--id expects a container id').optional();

/** NAME (with --id when it stands for several containers) or --admin-db: whose backups. */
export function ownerOf(name: string | undefined, flags: { adminDb?: boolean | undefined; id?: number | undefined }): OwnerRequest {
  if (flags.adminDb) {
    if (name !== undefined || flags.id !== undefined) throw new ConfigError('--admin-db names the admin database: give no container name or --id with it');
    return { adminDb: true };
  }
  if (name === undefined) throw new ConfigError("say whose backups: a container's name, or --admin-db for the admin database's own");
  return { name, ...(flags.id !== undefined ? { id: flags.id } : {}) };
}

/** --thaw and its settings: restore and verify of an archived backup. */
const thawFlags = {
  thaw: z.boolean().optional(),
  tier: z.preprocess(
    (v) => (typeof v === 'string' ? `${v.charAt(0).toUpperCase()}${v.slice(1).toLowerCase()}` : v),
    z.enum(THAW_TIERS, { message: `--tier must be ${THAW_TIERS.join(', ')}` }).optional(),
  ),
  thawWait: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: '--thaw-wait expects a duration such as 0, 30m or 6h' });
        return z.NEVER;
      }
      return ms;
    }),
  thawDays: z.coerce.number({ message: '--thaw-days expects a number of days' }).int().min(1, '--thaw-days expects 1 or more').max(365, '--thaw-days expects at most 365').optional(),
};

export function thawOf(flags: { thaw?: boolean | undefined; tier?: ThawOptions['tier'] | undefined; thawWait?: number | undefined; thawDays?: number | undefined }): ThawOptions | undefined {
  if (!flags.thaw) {
    if (flags.tier !== undefined || flags.thawWait !== undefined || flags.thawDays !== undefined) throw new ConfigError('--tier, --thaw-wait and --thaw-days go with --thaw');
    return undefined;
  }
  return { tier: flags.tier ?? 'Standard', days: flags.thawDays ?? DEFAULT_THAW_DAYS, ...(flags.thawWait !== undefined ? { waitMs: flags.thawWait } : {}) };
}

/** The --thaw options, the same on restore and verify. */
export function withThawOptions(command: Command): Command {
  return command
    .option('--thaw', 'a backup S3 has archived (GLACIER, DEEP_ARCHIVE): ask S3 to thaw a copy of its objects, wait for it, then go on')
    .option('--tier <tier>', 'with --thaw: Expedited (minutes), Standard (hours; the default) or Bulk (slowest, cheapest)')
    .option('--thaw-wait <duration>', 'with --thaw: wait at most this long, then exit 5 saying when to come back (default: as long as the tier typically takes; 0: do not wait)')
    .option('--thaw-days <n>', `with --thaw: days S3 keeps the thawed copies readable (default ${DEFAULT_THAW_DAYS})`);
}

export const restoreFlags = z.object({
  ...thawFlags,
  backupId: z.string().trim().min(1, '--backup-id expects a backup id (YYYY-MM-DD_HH:MM:SS) or latest').optional(),
  database: z.string().min(1, '--database expects a database name').optional(),
  to: z.string().min(1).optional(),
  toContainer: z.string().min(1).optional(),
  force: z.boolean().optional(),
  verify: z.boolean().optional(),
  adminDb: z.boolean().optional(),
  adminDbServer: z.boolean().optional(),
  id: containerId,
});

export const verifyFlags = z.object({
  ...thawFlags,
  adminDb: z.boolean().optional(),
  sample: z.coerce.number({ message: '--sample expects a number' }).int().min(1, '--sample expects a number ≥ 1').max(1000).optional(),
  backupId: z.string().trim().min(1).optional(),
});

export const listFlags = z.object({ json: z.boolean().optional(), adminDb: z.boolean().optional(), id: containerId });
