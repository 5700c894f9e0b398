/**
 * Running scenarios: each a bash script measured by measure.ts, `runs` times, interleaved (A, B, C, A, B, C...) so
 * that drift in the machine's state (the servers' background work after loading, other load) spreads over all of
 * them; the figures are medians per scenario. After each run the S3 bucket is emptied, except what a scenario
 * keeps for the restores that follow.
 */
import { emptyBucket, objectKeys, type S3Server } from './s3-servers.js';
import { measure, median, medianStats, type RunStats, type Timed } from './measure.js';

export interface Scenario {
  label: string;
  /** The script; `timed` wraps the processes whose CPU and peak RSS are measured. */
  build: (timed: Timed, run: number) => string;
  env: Record<string, string>;
  /** The S3 server the run talks to: its CPU is sampled around the run, its bucket emptied after it. */
  server?: S3Server;
  /** Untimed set-up before each run (e.g. an empty target database). */
  before?: () => Promise<void>;
  /** Throws when the run did not do its job (a failed backup, a restore that lost rows). Untimed. */
  check?: (stats: RunStats) => void | Promise<void>;
  /** The bytes the run left in S3, read before the bucket is emptied. */
  stored?: (stats: RunStats, run: number) => Promise<number>;
  /** Keep what the last run stored (the source of restores); release() lets it go. */
  keepLast?: boolean;
}

export interface Outcome {
  /** Medians over the runs. */
  stats: RunStats;
  /** The last run (what a kept scenario left in S3). */
  last: RunStats;
  /** Each run's wall time, s, in the order of the rounds (to pair it with another scenario's run of the same round). */
  walls: number[];
  storedBytes?: number;
}

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

export class Runner {
  /** Per S3 server, the keys kept for restores. */
  private readonly kept = new Map<S3Server, Set<string>>();

  constructor(
    private readonly runs: number,
    private readonly bucket: string,
  ) {}

  async rounds(scenarios: Scenario[]): Promise<Map<Scenario, Outcome>> {
    const all = new Map<Scenario, { stats: RunStats; stored?: number }[]>(scenarios.map((sc) => [sc, []]));
    for (let i = 0; i < this.runs; i += 1) {
      for (const sc of scenarios) all.get(sc)!.push(await this.once(sc, i, `(run ${i + 1}/${this.runs})`));
    }
    return new Map(
      [...all].map(([sc, list]) => {
        const stored = list.flatMap((r) => (r.stored === undefined ? [] : [r.stored]));
        const outcome: Outcome = { stats: medianStats(list.map((r) => r.stats)), last: list.at(-1)!.stats, walls: list.map((r) => r.stats.wallS) };
        if (stored.length) outcome.storedBytes = median(stored);
        return [sc, outcome];
      }),
    );
  }

  /** One run, not counted in any figure (a warm-up); returns what the script printed. */
  async untimed(label: string, script: string, env: Record<string, string>): Promise<string> {
    const stats = await measure(() => script, { env });
    say(`${label}: ${stats.wallS.toFixed(1)} s (not counted)`);
    return stats.stdout;
  }

  /** Empties the server's bucket, the kept objects included. */
  async release(server: S3Server): Promise<void> {
    this.kept.delete(server);
    await emptyBucket(server, this.bucket);
  }

  private async once(sc: Scenario, run: number, which: string): Promise<{ stats: RunStats; stored?: number }> {
    await sc.before?.();
    const stats = await measure((timed) => sc.build(timed, run), { env: sc.env, ...(sc.server?.pid ? { serverPid: sc.server.pid } : {}) });
    say(`${sc.label}${sc.server ? ` (${sc.server.kind})` : ''} ${which}: ${stats.wallS.toFixed(1)} s`);
    await sc.check?.(stats);
    const stored = sc.stored ? await sc.stored(stats, run) : undefined;
    if (sc.server) {
      const kept = this.kept.get(sc.server) ?? new Set<string>();
      if (sc.keepLast && run === this.runs - 1) {
        for (const key of await objectKeys(sc.server, this.bucket)) kept.add(key);
        this.kept.set(sc.server, kept);
      }
      await emptyBucket(sc.server, this.bucket, kept);
    }
    return { stats, ...(stored !== undefined ? { stored } : {}) };
  }
}
