// The few named failures the CLI maps to exit codes (see cli.ts): 2 bad usage/config, 3 could not start.
import type { LeftBehind } from './storage/s3-errors.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The run could not start: admin DB unreachable, bucket unreachable, another run holds the lock. */
export class CannotStartError extends Error {
  override name = 'CannotStartError';
}

/** A failure that may carry the end of a child process's stderr (masked), for the log and backups.err_msg. */
export abstract class FailureWithStderr extends Error {
  constructor(
    message: string,
    readonly stderrTail = '',
  ) {
    super(message);
  }
}

/** A child process (a dump, a restore tool, zstd, a client query) could not start, was stopped, or exited non-zero. */
export class CommandFailed extends FailureWithStderr {
  override name = 'CommandFailed';
  constructor(
    message: string,
    stderrTail = '',
    /** The signal that ended it, when not sent by us: SIGPIPE says whatever read its output went away first. */
    readonly signal?: NodeJS.Signals,
  ) {
    super(message, stderrTail);
  }
}

/** A child process that never ran (its program missing, not executable): nothing it was given is to blame. */
export class CommandNotStarted extends CommandFailed {
  override name = 'CommandNotStarted';
}

/** One backup failed; the message is what goes (masked) into backups.err_msg after 'ERROR: '. */
export class BackupFailed extends FailureWithStderr {
  override name = 'BackupFailed';
  /** What the failing step wrote and could not remove (an upload it could not abort, an object it could not delete). */
  readonly leftBehind: LeftBehind[] = [];
}

/** A restore (or a verification's test restore) failed; the message says which object and how, already masked. */
export class RestoreFailed extends FailureWithStderr {
  override name = 'RestoreFailed';
}

/**
 * The backup is in an archive storage class (GLACIER, DEEP_ARCHIVE) and S3 has no readable copy yet: nothing was
 * read or written. The message says what to do (--thaw) or when to come back. Exit code 5.
 */
export class BackupArchived extends Error {
  override name = 'BackupArchived';
  constructor(
    message: string,
    /** Which backup, for callers that say it their own way (the sample's and verify's lines). */
    readonly backup: { label: string; folderId: string; archiveClass?: string },
  ) {
    super(message);
  }
}

/**
 * An error's own words, for a one-sentence failure. A connection to a name with several addresses (`localhost`:
 * 127.0.0.1 and ::1) that all refused fails with an AggregateError whose message is empty: its errors say why.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message) return err.message;
  const inner = err instanceof AggregateError ? [...new Set(err.errors.map(errorText).filter(Boolean))] : [];
  return inner.length ? inner.join('; ') : ((err as NodeJS.ErrnoException).code ?? err.name);
}
