// --dry-run: the plan, the masked commands and the S3 keys a run would write; it dumps, uploads and records nothing.
import type { Config } from '../config.js';
import type { BackupJob } from '../pipeline/backup-job.js';
import { renderCommand } from '../pipeline/command.js';
import { backupFolder, newFolderId, ownerSegment } from '../storage/layout.js';
import type { RunSummary } from './summary.js';
import { errorText } from '../errors.js';

export async function printPlan(jobs: BackupJob[], skipped: RunSummary['skipped'], config: Config, io: { print: (line: string) => void; mask: (text: string) => string }): Promise<void> {
  const now = new Date();
  io.print(`Dry run: ${jobs.length} backups would run; nothing is dumped, uploaded or recorded.`);
  for (const job of jobs) {
    io.print(`\n${job.name} (${job.backupType})`);
    try {
      // Listing the databases is read-only; it makes the printed keys the real ones (but for the folder's random part).
      const steps = await job.steps();
      const folder = backupFolder(config.s3.prefix, ownerSegment(job.owner), newFolderId(now));
      for (const step of steps) {
        io.print(`  ${renderCommand(step.command, io.mask)}`);
        io.print(`    → s3://${config.s3.bucket}/${folder}${step.objectName} (SSE ${config.s3.sse.mode}${step.compression !== 'none' ? `, ${step.compression}` : ''})`);
      }
    } catch (err) {
      io.print(`  would fail: ${io.mask(errorText(err))}`);
    }
  }
  for (const s of skipped) io.print(`skipped ${s.name}: ${s.reason}`);
}
