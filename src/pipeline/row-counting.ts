// The row counts of one dump step, as its engine says (RowCounting in engines/types.ts): a snapshot counter beside
// the dump, or a tap on the dump's stream with the engine's counter. Counting is a by-product: when it cannot be done
// the backup goes on, and says so (unless the engine says a rejected stream is an unrestorable dump).
import type { Logger } from 'pino';
import { startSnapshotCounter } from '../counts/postgres.js';
import { CountingTap } from '../counts/stream.js';
import type { RowCounts } from '../counts/types.js';
import type { Command, RowCounting } from '../engines/types.js';
import { BackupFailed, errorText } from '../errors.js';

export type RowCountResult = { counts: RowCounts } | { error: string };

export interface RunningRowCount {
  /** The dump command, with the snapshot to dump in (PostgreSQL). */
  command: Command;
  /** Streams to put between the dump's stdout and the compressor. */
  taps: CountingTap[];
  /**
   * Once the whole stream went past (before the upload completes): the counts or why there are none (undefined when
   * nothing was counted). Throws BackupFailed when the stream is proven unrestorable (a MongoDB archive).
   */
  result(): Promise<RowCountResult | undefined>;
  /** The step failed: stop counting. */
  abort(): Promise<void>;
}

const NOTHING: Omit<RunningRowCount, 'command'> = { taps: [], result: async () => undefined, abort: async () => {} };

export async function startRowCounting(counting: RowCounting | undefined, command: Command, log: Logger): Promise<RunningRowCount> {
  if (!counting) return { command, ...NOTHING };
  if (counting.kind === 'snapshot') {
    const snapshotCounter = await startSnapshotCounter(counting.conn, counting.database).catch((err: unknown) => err as Error);
    if (snapshotCounter instanceof Error) {
      const error = `could not export a snapshot to count rows in: ${errorText(snapshotCounter)}`;
      log.warn({ database: counting.database, err: error }, 'rows not counted');
      return { command, ...NOTHING, result: async () => ({ error }) };
    }
    return {
      command: { ...command, argv: [...command.argv, ...counting.snapshotArgs(snapshotCounter.snapshot)] },
      taps: [],
      result: async () => {
        try {
          return { counts: { [counting.database]: await snapshotCounter.counts } };
        } catch (err) {
          const error = `counting rows failed: ${errorText(err)}`;
          log.warn({ database: counting.database, err: error }, 'rows not counted');
          return { error };
        } finally {
          await snapshotCounter.close();
        }
      },
      abort: () => snapshotCounter.abort(),
    };
  }
  const tap = new CountingTap(counting.counter());
  return {
    command,
    taps: [tap],
    result: async () => {
      const result = await tap.result();
      if ('error' in result) {
        if (counting.invalidDump !== undefined) throw new BackupFailed(`${counting.invalidDump}: ${result.error}`);
        log.warn({ err: result.error }, 'rows not counted');
      }
      return result;
    },
    abort: async () => {},
  };
}
