// Thin: parse the command line (commands/program.ts), run the command, and map its outcome to the exit code, in one
// place. Exit codes (design.md): 0 all good; 1 a backup or restore failed; 2 bad usage or configuration; 3 could not
// start; 4 backups fine but the run could not report them (mail, rows) or clean up after earlier runs; 5 (restore,
// verify) the backup is archived in S3 and not readable yet: nothing was read or written.
import { CommanderError } from 'commander';
import { z } from 'zod';
import { buildProgram } from './commands/program.js';
import { BackupArchived, BackupFailed, CannotStartError, CommandFailed, ConfigError, errorText, RestoreFailed } from './errors.js';
import { makeMasker } from './util/mask.js';

/**
 * A failure of the outside world, not of this code: a restore or backup that failed and says why, a system call that
 * failed (ECONNREFUSED, ENOENT…), a server's refusal (PostgreSQL's SQLSTATE), an answer from S3.
 */
function isExpectedFailure(err: unknown): boolean {
  if (err instanceof RestoreFailed || err instanceof BackupFailed || err instanceof CommandFailed) return true;
  const e = err as { code?: unknown; $metadata?: unknown; severity?: unknown };
  return err instanceof Error && (typeof e.code === 'string' || e.$metadata !== undefined || e.severity !== undefined);
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof z.ZodError) {
      process.stderr.write(`backup-all: ${err.issues.map((i) => i.message).join('; ')}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`backup-all: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CannotStartError) {
      process.stderr.write(`backup-all: could not start: ${err.message}\n`);
      return 3;
    }
    if (err instanceof BackupArchived) {
      process.stderr.write(`backup-all: ${err.message}\n`);
      return 5;
    }
    // Config may not have loaded: mask whatever the environment calls a password, secret or token.
    const secrets = Object.entries(process.env).flatMap(([k, v]) => (/PASSWORD|SECRET|TOKEN|_URI$|_URL$/.test(k) && v ? [v] : []));
    const mask = makeMasker(secrets);
    // Failures the world causes (a backup that is not whole, a server that refuses or cannot be reached, S3 saying no)
    // are one sentence; only what is a bug here gets its stack.
    if (isExpectedFailure(err)) {
      process.stderr.write(`backup-all: ${mask(errorText(err))}\n`);
      return 1;
    }
    process.stderr.write(`backup-all: unexpected error: ${mask((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}
