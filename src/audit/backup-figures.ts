// The figures of each container's newest successful backup for the audit's metrics (size, rows), read from that
// backup's manifest in S3: one small GET per container, a few at a time, within a deadline, so the audit (every
// 15 min from cron) stays fast. A manifest that cannot be read leaves its container's figures out, never the audit.
import type { Config } from '../config.js';
import { runPool } from '../util/pool.js';
import { folderOfUrl } from '../storage/layout.js';
import { readManifest } from '../storage/manifest.js';
import { describeS3Error } from '../storage/s3-errors.js';
import { createS3Client } from '../storage/s3.js';
import { contentsOf } from '../watch/compare.js';
import type { AuditResult } from './evaluate.js';

export interface BackupFigures {
  /** Bytes of the backup, by container name. */
  sizes: Map<string, number>;
  /** Rows of every table in the backup, by container name, where the backup counted them all. */
  rows: Map<string, number>;
  /** Manifests that could not be read: `name: why`. */
  unread: string[];
}

const READS_AT_ONCE = 8;
const DEADLINE_MS = 30_000;

export async function lastBackupFigures(config: Config, results: readonly AuditResult[]): Promise<BackupFigures> {
  const figures: BackupFigures = { sizes: new Map(), rows: new Map(), unread: [] };
  const { bucket, prefix } = config.s3;
  // One per name, as the metrics are (prometheus.ts).
  const names = new Set<string>();
  const wanted = results.flatMap((r) => {
    const folder = r.lastSuccess ? folderOfUrl(bucket, prefix, r.lastSuccess.url) : undefined;
    if (!folder || names.has(r.name)) return [];
    names.add(r.name);
    return [{ name: r.name, folder }];
  });
  if (wanted.length === 0) return figures;
  const client = createS3Client(config.s3, READS_AT_ONCE);
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  try {
    await runPool(
      wanted,
      READS_AT_ONCE,
      async ({ name, folder }) => {
        try {
          const manifest = await readManifest(client, bucket, folder, deadline);
          if (!manifest) throw new Error('it has no manifest');
          const contents = contentsOf(manifest);
          figures.sizes.set(name, contents.bytes);
          if (contents.rows !== undefined) figures.rows.set(name, contents.rows);
        } catch (err) {
          figures.unread.push(`${name}: ${describeS3Error(err)}`);
        }
      },
      deadline,
    );
  } finally {
    client.destroy();
  }
  const left = wanted.length - figures.sizes.size - figures.unread.length;
  if (left > 0) figures.unread.push(`${left} more not read: the ${DEADLINE_MS / 1000} s for reading manifests ran out`);
  return figures;
}
