const pad = (n: number) => String(n).padStart(2, '0');

/** backup_id: the local time (TZ from the environment) as `YYYY-MM-DD_HH:MM:SS`, as the web UI expects. */
export function formatBackupId(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}_` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export const BACKUP_ID_PATTERN = /^\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}$/;
