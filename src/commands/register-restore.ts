// The restore-side subcommands on the CLI: restore, verify, list. Thin: flags → config → one command function.
import type { Command } from 'commander';
import { z } from 'zod';
import { interruptSignal, setUp } from '../cli.js';
import { ConfigError } from '../errors.js';
import type { OwnerRequest } from '../restore/source.js';
import { DEFAULT_THAW_DAYS, type ThawOptions } from '../restore/thaw.js';
import { THAW_TIERS } from '../storage/archive.js';
import { parseDuration } from '../util/duration.js';
import { runList, runRestore } from './restore.js';
import { runVerify } from './verify.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

const containerId = z.coerce.number({ message: '--id expects a container id (a number)' }).int().positive('--id expects a container id').optional();

/** NAME (with --id when it stands for several containers) or --admin-db: whose backups. */
function ownerOf(name: string | undefined, flags: { adminDb?: boolean | undefined; id?: number | undefined }): OwnerRequest {
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

function thawOf(flags: { thaw?: boolean | undefined; tier?: ThawOptions['tier'] | undefined; thawWait?: number | undefined; thawDays?: number | undefined }): ThawOptions | undefined {
  if (!flags.thaw) {
    if (flags.tier !== undefined || flags.thawWait !== undefined || flags.thawDays !== undefined) throw new ConfigError('--tier, --thaw-wait and --thaw-days go with --thaw');
    return undefined;
  }
  return { tier: flags.tier ?? 'Standard', days: flags.thawDays ?? DEFAULT_THAW_DAYS, ...(flags.thawWait !== undefined ? { waitMs: flags.thawWait } : {}) };
}

/** The --thaw options, the same on restore and verify. */
function withThawOptions(command: Command): Command {
  return command
    .option('--thaw', 'a backup S3 has archived (GLACIER, DEEP_ARCHIVE): ask S3 to thaw a copy of its objects, wait for it, then go on')
    .option('--tier <tier>', 'with --thaw: Expedited (minutes), Standard (hours; the default) or Bulk (slowest, cheapest)')
    .option('--thaw-wait <duration>', 'with --thaw: wait at most this long, then exit 5 saying when to come back (default: as long as the tier typically takes; 0: do not wait)')
    .option('--thaw-days <n>', `with --thaw: days S3 keeps the thawed copies readable (default ${DEFAULT_THAW_DAYS})`);
}

const restoreFlags = z.object({
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

const verifyFlags = z.object({
  ...thawFlags,
  adminDb: z.boolean().optional(),
  sample: z.coerce.number({ message: '--sample expects a number' }).int().min(1, '--sample expects a number ≥ 1').max(1000).optional(),
  backupId: z.string().trim().min(1).optional(),
});

const listFlags = z.object({ json: z.boolean().optional(), adminDb: z.boolean().optional(), id: containerId });

export function registerRestoreCommands(program: Command, setExitCode: (code: number) => void): void {
  withThawOptions(program
    .command('restore')
    .description('stream a backup from S3 back into a database server (no temp files); refuses non-empty targets without --force')
    .argument('[name]', "the container's name (Info.Name or its row's name)")
    .option('--id <id>', "the container's id in the admin DB, when the name stands for several")
    .option('--admin-db', "the admin database's own backups (instead of a container's)")
    .option('--backup-id <id>', 'which backup: a backup_id or folder id (see `list`), or latest (default: the newest one logged as successful)')
    .option('--database <db>', 'only this database of the backup (its name at backup time)')
    .option('--to <url>', 'target server: postgresql://[user@]host[:port][/db], mariadb://…[/db] or mongodb://…; a missing user/password is the engine admin account from the configuration; /db restores into that database')
    .option('--to-container <name>', 'target: an active container (the configured DB host, its Port)')
    .option('--force', 'replace what a non-empty target database holds; restore a backup whose manifest is missing (without its checks)')
    .option('--admin-db-server', "allow a target that is the admin database's own server (refused otherwise)")
    .option('--verify', 'test restore instead: into scratch databases on the verification server, counted, then dropped'))
    .action(async (name: string | undefined, raw: unknown) => {
      const flags = restoreFlags.parse(raw);
      const owner = ownerOf(name, flags);
      const thaw = thawOf(flags);
      const ctx = setUp({});
      const signal = interruptSignal(ctx.log);
      setExitCode(
        await runRestore(
          ctx.config,
          {
            owner,
            ...(flags.backupId !== undefined ? { backupId: flags.backupId } : {}),
            ...(flags.database !== undefined ? { database: flags.database } : {}),
            ...(flags.to !== undefined ? { to: flags.to } : {}),
            ...(flags.toContainer !== undefined ? { toContainer: flags.toContainer } : {}),
            force: flags.force ?? false,
            verify: flags.verify ?? false,
            adminDbServer: flags.adminDbServer ?? false,
            ...(thaw ? { thaw } : {}),
          },
          { log: ctx.log, mask: ctx.mask, print, signal },
        ),
      );
    });

  withThawOptions(program
    .command('verify')
    .description('test-restore backups into scratch databases on the verification servers (BACKUP_VERIFY_*_URL), count tables and rows, drop them; one action_log row each')
    .argument('[names...]', "containers to verify (default: every active container with a verification server, and the admin DB's backup)")
    .option('--admin-db', "the admin database's own backup (with or without names)")
    .option('--sample <n>', 'verify only n of them: those verified longest ago first')
    .option('--backup-id <id>', 'with one name: verify this backup instead of the newest successful one'))
    .action(async (names: string[], raw: unknown) => {
      const flags = verifyFlags.parse(raw);
      const thaw = thawOf(flags);
      const ctx = setUp({});
      const signal = interruptSignal(ctx.log);
      setExitCode(
        await runVerify(
          ctx.config,
          {
            names,
            adminDb: flags.adminDb ?? false,
            ...(flags.sample !== undefined ? { sample: flags.sample } : {}),
            ...(flags.backupId !== undefined ? { backupId: flags.backupId } : {}),
            ...(thaw ? { thaw } : {}),
          },
          { log: ctx.log, mask: ctx.mask, print, signal },
        ),
      );
    });

  program
    .command('list')
    .description("a container's backups: S3 folders with their objects and sizes, joined with the backups log, newest first")
    .argument('[name]', "the container's name")
    .option('--id <id>', "the container's id in the admin DB, when the name stands for several")
    .option('--admin-db', "the admin database's own backups")
    .option('--json', 'one JSON document on stdout (logs go to stderr)')
    .action(async (name: string | undefined, raw: unknown) => {
      const flags = listFlags.parse(raw);
      const owner = ownerOf(name, flags);
      const ctx = setUp({ json: flags.json });
      setExitCode(await runList(ctx.config, { owner, json: flags.json ?? false }, { log: ctx.log, mask: ctx.mask, print }));
    });
}
