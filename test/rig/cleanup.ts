import { constants } from 'node:os';

/**
 * Last-resort cleanup: synchronous kill functions run when this process exits or is interrupted, so servers
 * never outlive the test run or demo script that started them. Orderly shutdown (stop()) unregisters them.
 * Keep them fast (a signal, no file I/O): tsx SIGKILLs a child that does not acknowledge a signal within
 * ~60 ms. Removing directories is the reaper's job (reap.ts).
 */
const handlers = new Set<() => void>();
let installed = false;

/** Registers a synchronous cleanup; returns the function that unregisters it. */
export function onEmergencyExit(fn: () => void): () => void {
  install();
  handlers.add(fn);
  return () => void handlers.delete(fn);
}

/**
 * Runs every registered cleanup, newest first. They stay registered: after a signal, startup work already under way may still spawn or write something, so they run
 * again on exit (every cleanup is idempotent).
 */
function runEmergencyCleanup(): void {
  for (const fn of [...handlers].reverse()) {
    try {
      fn();
    } catch {
      // best effort: keep cleaning up the rest
    }
  }
}

/**
 * Our listeners go first: vitest's own SIGINT/exit listeners call process.exit() again, which ends the process
 * at once and skips every 'exit' listener registered after theirs.
 */
function install(): void {
  if (installed) return;
  installed = true;
  process.prependOnceListener('exit', runEmergencyCleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runEmergencyCleanup();
      process.removeListener(signal, onSignal);
      // Nobody else handles it (plain script): exit now, before pending async work can start anything new.
      if (process.listenerCount(signal) === 0) process.exit(128 + constants.signals[signal]);
    };
    process.prependListener(signal, onSignal);
  }
}
