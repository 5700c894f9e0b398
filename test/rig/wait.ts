/** Polling and error-context helpers shared by every server of the rig. */
import { readFile } from 'node:fs/promises';

/** Thrown by a waitUntil probe to stop waiting at once (e.g. the server process died). */
export class GiveUp extends Error {}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Calls `probe` until it returns a truthy value (returned) or the time is up (throws, naming `what` and the
 * probe's last error). A probe that throws GiveUp ends the wait immediately.
 */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  intervalMs = 100,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
      lastError = undefined;
    } catch (e) {
      if (e instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${e.message}`);
      lastError = e;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const why = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(Math.min(intervalMs, left));
  }
}

/** The last `lines` lines of a log file, or a note that it does not exist. */
export async function tail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** Runs `fn`; if it fails, rethrows with the tails of the given log files appended to the message. */
export async function withLogTails<T>(logFiles: string[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const tails = await Promise.all(logFiles.map(async (f) => `--- tail of ${f} ---\n${await tail(f)}`));
    throw new Error(`${errorMessage(e)}\n${tails.join('\n')}`, { cause: e });
  }
}
