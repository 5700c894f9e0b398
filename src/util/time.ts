const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Milliseconds on a clock that only moves forward, at its own pace: for elapsed times, deadlines and the stall
 * watchdog. The wall clock (Date) can be stepped by hours (NTP, a VM resumed), which would kill a healthy dump as
 * stalled or hide a hung one; it is for naming moments only.
 */
export const monotonicNow = (): number => performance.now();

/** Whole milliseconds since `start` (a monotonicNow() reading). */
export const msSince = (start: number): number => Math.round(monotonicNow() - start);

/** backup_id: the local time (TZ from the environment) as `YYYY-MM-DD_HH:MM:SS`, as the web UI expects. */
export function formatBackupId(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}_` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export const BACKUP_ID_PATTERN = /^\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}$/;
