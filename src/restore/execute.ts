// Runs a restore plan: its steps one after the other, each object streamed from S3 into its command. The first failure
// stops it; the plan's undo then drops what the restore created.
import { renderCommand } from '../pipeline/command.js';
import { streamObjectToCommand, type RestoreStepContext } from '../pipeline/restore-step.js';
import { formatBytes, formatDuration } from '../util/format.js';
import type { RestorePlan } from './plan.js';
import { objectRef, type BackupSource } from './source.js';
import { monotonicNow, msSince } from '../util/time.js';

export interface RestoreRun {
  bytes: number;
  durationMs: number;
}

export async function executeRestore(
  plan: RestorePlan,
  source: BackupSource,
  ctx: RestoreStepContext,
  print: (line: string) => void,
): Promise<RestoreRun> {
  const started = monotonicNow();
  let bytes = 0;
  try {
    await plan.prepare();
    for (const step of plan.steps) {
      print(`  ${step.objectName} → ${renderCommand(step.command, ctx.mask)}`);
      const out = await streamObjectToCommand(step, objectRef(source, step.objectName), ctx);
      bytes += out.bytes;
      print(`    done: ${formatBytes(out.bytes)} in ${formatDuration(out.durationMs)}`);
    }
  } catch (err) {
    for (const line of await plan.undo()) print(`  ${ctx.mask(line)}`);
    throw err;
  }
  return { bytes, durationMs: msSince(started) };
}
