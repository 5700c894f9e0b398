// Audit results → the Prometheus text exposition format, for node_exporter's textfile collector. Pure.
import { AUDIT_STATUSES, type AuditResult } from './evaluate.js';

export interface PrometheusInput {
  results: readonly AuditResult[];
  /** When the audit ran. */
  now: Date;
  /** Size of each container's newest successful backup in bytes, by container name, when known. */
  sizes?: ReadonlyMap<string, number>;
  /** Rows of every table in each container's newest successful backup, by container name, when counted. */
  rows?: ReadonlyMap<string, number>;
}

/** Label values: backslash, double quote and newline escaped, as the exposition format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');
  return `{${body}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

const seconds = (ms: number) => ms / 1000;

interface Family {
  name: string;
  help: string;
  samples: string[];
}

export function renderPrometheus({ results, now, sizes, rows }: PrometheusInput): string {
  const family = (name: string, help: string): Family => ({ name, help, samples: [] });
  const lastSuccess = family('mydb_backup_last_success_timestamp_seconds', 'Unix time the newest successful backup of the container finished.');
  const duration = family('mydb_backup_last_duration_seconds', 'How long the newest successful backup of the container took.');
  const size = family('mydb_backup_last_size_bytes', 'Size of the newest successful backup of the container in S3.');
  const rowCount = family('mydb_backup_last_rows', 'Rows of every table in the newest successful backup of the container, as the backup counted them.');
  const suspicious = family(
    'mydb_backup_suspicious',
    '1 while the container is Suspicious: its newest successful backup lost a database or table, or most of its rows or size, against the ones before, and nobody acknowledged it; else 0.',
  );
  const failed = family(
    'mydb_backup_failed',
    '1 when the container fails the backup audit (a policy and a status other than Good or Running), else 0.',
  );
  const status = family('mydb_backup_status', 'The container\'s audit status: 1 for the current one, 0 for the others.');
  const auditTime = family('mydb_backup_audit_timestamp_seconds', 'Unix time the backup audit ran.');

  // Two series with the same labels would make node_exporter reject the whole file: one container per name.
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(r.name)) continue;
    seen.add(r.name);
    const common = labels({ container: r.name, engine: r.engine, frequency: r.frequency });
    if (r.lastSuccess) {
      lastSuccess.samples.push(`${lastSuccess.name}${common} ${number(seconds(r.lastSuccess.endedAt.getTime()))}`);
      duration.samples.push(`${duration.name}${common} ${number(seconds(r.lastSuccess.durationMs))}`);
    }
    const bytes = sizes?.get(r.name);
    if (bytes !== undefined && Number.isFinite(bytes)) size.samples.push(`${size.name}${common} ${number(bytes)}`);
    const counted = rows?.get(r.name);
    if (counted !== undefined && Number.isFinite(counted)) rowCount.samples.push(`${rowCount.name}${common} ${number(counted)}`);
    suspicious.samples.push(`${suspicious.name}${common} ${r.status === 'Suspicious' ? 1 : 0}`);
    failed.samples.push(`${failed.name}${common} ${r.ok ? 0 : 1}`);
    for (const s of AUDIT_STATUSES) {
      status.samples.push(`${status.name}${labels({ container: r.name, status: s })} ${s === r.status ? 1 : 0}`);
    }
  }
  auditTime.samples.push(`${auditTime.name} ${number(seconds(now.getTime()))}`);

  const out: string[] = [];
  for (const f of [lastSuccess, duration, size, rowCount, failed, suspicious, status, auditTime]) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} gauge`, ...f.samples);
  }
  return `${out.join('\n')}\n`;
}
