// Every command of `backup-all`, its flags and what it calls, in one place: cli.ts parses with it and maps what
// comes back (or is thrown) to an exit code.
import { Command, Option } from 'commander';
import { BACKUP_TYPES } from '../run/plan.js';
import { runAcknowledge } from './acknowledge.js';
import { runAudit } from './audit.js';
import { runBackupCommand } from './backup.js';
import { runCheck } from './check.js';
import { applyEnvFileOption, envFileOption, interruptSignal, print, setUp } from './context.js';
import { acknowledgeFlags, listFlags, ownerOf, restoreFlags, thawOf, verifyFlags, withThawOptions } from './flags.js';
import { runList } from './list.js';
import { runRestore } from './restore.js';
import { runVerify } from './verify.js';

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('backup-all')
    .description('Back up the databases of a MyDB installation into S3 (server-side encrypted).')
    .argument('[containers...]', 'back up just these containers, due or not')
    .option('--weekly', 'the Saturday run: Weekly containers only')
    .addOption(new Option('--type <type>', 'backup_type for on-demand runs').choices(BACKUP_TYPES as string[]))
    .option('--dry-run', 'print the plan, the masked commands and the S3 keys; dump, upload and record nothing')
    .option('--concurrency <n>', 'containers backed up at the same time (default BACKUP_CONCURRENCY or 2)')
    .option('--timeout <duration>', 'kill a backup running longer than this (default BACKUP_TIMEOUT or 12h)')
    .option('--stall-timeout <duration>', 'kill a dump that writes nothing for this long (default BACKUP_STALL_TIMEOUT or 10m)')
    .addOption(new Option('--compress <mode>', 'compression of every dump of this run (PostgreSQL, MariaDB, MongoDB)').choices(['none', 'gzip', 'zstd']))
    .option('--worker', 'one of several processes (hosts) sharing this run: claim containers one by one, no run lock')
    .option('--json', 'print a one-line JSON result on stdout (logs go to stderr)')
    .addOption(envFileOption())
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .action(async (names: string[], flags: unknown) => setExitCode(await runBackupCommand(names, flags)));

  program
    .command('admin-db')
    .description("back up the admin database itself (pg_dump -Fc to {prefix}/_admin-db/{folder}/); also part of the nightly run")
    .option('--dry-run', 'print the command and the S3 key; do nothing')
    .option('--json', 'print a one-line JSON result on stdout (logs go to stderr)')
    .action(async (flags: unknown) => setExitCode(await runBackupCommand([], flags, true)));

  program
    .command('audit')
    .description('the start/end audit of every active container; exit 1 if any is out of policy')
    .option('--json', 'one JSON document instead of the table')
    .option('--prom <file>', 'also write a node_exporter textfile with per-container gauges')
    .action(async (flags: { json?: boolean; prom?: string }) => {
      const ctx = setUp({ ...flags, json: true });
      const warn = (line: string) => ctx.log.warn(line);
      setExitCode(await runAudit(ctx.config, { json: flags.json ?? false, ...(flags.prom ? { prom: flags.prom } : {}), warn }, print, ctx.mask));
    });

  program
    .command('acknowledge')
    .description("after checking them: accept the changes flagged in a container's newest backup, so the audit shows it Good again (an action_log row)")
    .argument('<name>', "the container's name")
    .option('--id <id>', "the container's id in the admin DB, when the name stands for several")
    .option('--note <text>', 'why the changes are fine, kept in action_log')
    .action(async (name: string, raw: unknown) => {
      const flags = acknowledgeFlags.parse(raw);
      const ctx = setUp({ json: true });
      setExitCode(
        await runAcknowledge(ctx.config, { name, ...(flags.id !== undefined ? { id: flags.id } : {}), ...(flags.note ? { note: flags.note } : {}) }, print, ctx.mask),
      );
    });

  program
    .command('check')
    .description('validate the configuration and reach the admin DB, the bucket, SMTP and the dump tools')
    .action(async () => {
      const ctx = setUp({});
      setExitCode(await runCheck(ctx.config, ctx.mask, print));
    });

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

  // --env-file is global: before the subcommand it is the root's option, after it the subcommand's own (added to
  // every subcommand here, so a new one has it too). Applied before any action runs.
  for (const command of program.commands) command.addOption(envFileOption());
  program.hook('preAction', (_program, action) => applyEnvFileOption(action));
  return program;
}
