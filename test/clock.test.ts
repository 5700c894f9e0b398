// The wall clock stepped by days in the middle of a backup (NTP, a VM resumed): the stall watchdog and --timeout
// go by the time that really passed. One object streamed in-process from a real child process into moto, with
// Date.now stepped while the dump runs.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { DumpStep } from '../src/engines/types.js';
import { streamStepToS3, type StepContext } from '../src/pipeline/stream-step.js';
import { makeMasker } from '../src/util/mask.js';
import { monotonicNow } from '../src/util/time.js';
import { getRig } from './helpers/rig.js';
import { toolEnv } from './helpers/run-cli.js';
import { createBucket, headObject, s3Client, uniqueBucketName } from './rig/s3.js';

const rig = getRig();
const DAYS = 3 * 24 * 3_600_000;
const realNow = Date.now;

afterEach(() => {
  Date.now = realNow;
});

/** Steps Date.now by `offsetMs` once `afterMs` have passed. */
function stepWallClock(offsetMs: number, afterMs: number): void {
  setTimeout(() => {
    Date.now = () => realNow() + offsetMs;
  }, afterMs);
}

async function context(opts: { stallTimeoutMs: number; timeoutMs: number }): Promise<{ ctx: StepContext; bucket: string }> {
  const client = s3Client(rig.moto.endpoint);
  const bucket = await createBucket(client, uniqueBucketName('clock'));
  const config = loadConfig(toolEnv(rig, { adminDb: 'x', bucket }));
  const ctx: StepContext = {
    client,
    s3: { ...config.s3, partSizeBytes: 5 * 1024 * 1024 },
    mask: makeMasker([]),
    log: pino({ level: 'silent' }),
    stallTimeoutMs: opts.stallTimeoutMs,
    deadline: monotonicNow() + opts.timeoutMs,
    progressIntervalMs: 200,
    signal: new AbortController().signal,
    countRows: false,
  };
  return { ctx, bucket };
}

const dump = (script: string): DumpStep => ({ command: { argv: ['bash', '-c', script] }, objectName: 'clock.dump', compression: 'none' });

describe('the wall clock stepped during a backup', () => {
  it.each([
    ['forward', DAYS],
    ['back', -DAYS],
  ])('%s by 3 days: a dump that writes steadily is neither stalled nor timed out, and is stored whole', async (_way, offset) => {
    const { ctx, bucket } = await context({ stallTimeoutMs: 60_000, timeoutMs: 600_000 });
    stepWallClock(offset, 1000);
    // 64 KiB every 0.5 s for 4 s: the watchdog (every 0.2 s here) looks between writes, after the step too.
    const out = await streamStepToS3(dump('for i in $(seq 8); do head -c 65536 /dev/zero; sleep 0.5; done'), 'k/clock.dump', ctx);
    expect(out.bytes).toBe(8 * 65536);
    expect((await headObject(ctx.client, bucket, 'k/clock.dump')).ContentLength).toBe(8 * 65536);
  });

  it('back by 3 days: a dump that hangs is still found stalled after --stall-timeout of real time', async () => {
    const { ctx } = await context({ stallTimeoutMs: 2000, timeoutMs: 600_000 });
    stepWallClock(-DAYS, 300);
    const started = monotonicNow();
    await expect(streamStepToS3(dump('head -c 1000 /dev/zero; sleep 30'), 'k/hung.dump', ctx)).rejects.toThrow(/stalled: no output for \d+\.\d s \(--stall-timeout\)/);
    expect(monotonicNow() - started).toBeLessThan(15_000);
  });

  it('forward by 3 days: --timeout still counts real time: the dump is killed when it has really passed, not at the step', async () => {
    const { ctx } = await context({ stallTimeoutMs: 60_000, timeoutMs: 2500 });
    stepWallClock(DAYS, 300);
    const started = monotonicNow();
    await expect(streamStepToS3(dump('while true; do head -c 65536 /dev/zero; sleep 0.1; done'), 'k/long.dump', ctx)).rejects.toThrow(/timed out \(--timeout\)/);
    // Not at the step of the clock: after the 2.5 s really passed.
    expect(monotonicNow() - started).toBeGreaterThanOrEqual(2400);
  });
});
