// Turns a containers row (id, name, data JSONB) into what the tool needs, tolerating the spellings found in
// production (see admin-db.md). Pure: unit-tested without a database.
import { z } from 'zod';

export type Frequency = 'Daily' | 'Weekly' | 'None';

export interface Container {
  id: number;
  /** Info.Name, or the row's name when Info has none: the name in backups rows, mails and the web UI. */
  name: string;
  /** containers.name (Info.Name may differ from it). */
  rowName: string;
  frequency: Frequency;
  /** Why this container cannot be backed up (bad JSON, missing Port...); it then fails alone. */
  problem?: string;
  engine: string;
  port: number;
}

const portSchema = z.union([z.number(), z.string().trim().regex(/^\d+$/, 'is not a number')]).pipe(
  z.coerce.number().int().min(1, 'is out of range').max(65535, 'is out of range'),
);

const infoSchema = z.object({
  Name: z.string().trim().min(1).optional(),
  dbengine: z.string({ required_error: 'is missing', invalid_type_error: 'is not a string' }).trim().min(1, 'is empty'),
  Port: portSchema.optional().nullable(),
});

/** obj[key] with the key in any case (Info, info, INFO). */
export function getInsensitive(obj: unknown, key: string): unknown {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === key) return v;
  return undefined;
}

/** backup_freq, BACKUP_FREQ or labels.backup_freq, any case; missing means Daily (migrated rows). */
export function frequencyOf(info: unknown): Frequency | { error: string } {
  const raw = getInsensitive(info, 'backup_freq') ?? getInsensitive(getInsensitive(info, 'labels'), 'backup_freq');
  if (raw === undefined || raw === null) return 'Daily';
  if (typeof raw !== 'string') return { error: `backup_freq ${JSON.stringify(raw)} is not a string` };
  switch (raw.trim().toLowerCase()) {
    case 'daily':
      return 'Daily';
    case 'weekly':
      return 'Weekly';
    case 'none':
    case '':
      return 'None';
    default:
      return { error: `backup_freq '${raw}' is not Daily, Weekly or None` };
  }
}

export function parseContainer(id: number, rowName: string, data: unknown): Container {
  const info = getInsensitive(data, 'info');
  const freq = frequencyOf(info);
  const base = { id, name: rowName, rowName, engine: '', port: 0 };
  if (!info || typeof info !== 'object' || Array.isArray(info)) {
    return { ...base, frequency: 'Daily', problem: "containers.data has no 'Info' object" };
  }
  const parsed = infoSchema.safeParse(info);
  const infoName = (info as { Name?: unknown }).Name;
  const name = typeof infoName === 'string' && infoName.trim() ? infoName.trim() : rowName;
  const frequency = typeof freq === 'string' ? freq : 'Daily';
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `Info.${i.path.join('.')} ${i.message}`).join('; ');
    return { ...base, name, frequency, problem: why };
  }
  const { dbengine, Port } = parsed.data;
  if (typeof freq !== 'string') return { ...base, name, frequency, engine: dbengine, problem: freq.error };
  if (Port === undefined || Port === null) return { ...base, name, frequency, engine: dbengine, problem: 'Info.Port is missing' };
  return { id, name, rowName, frequency, engine: dbengine, port: Port };
}
