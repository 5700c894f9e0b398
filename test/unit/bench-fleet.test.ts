// The fleet's overhead figure pairs each round's tool run with that round's dumps run: a machine that is slower in one
// round than in another must not show up as overhead.
import { describe, expect, it } from 'vitest';
import { pairedOverheadMs } from '../../bench/scenarios/fleet.js';

describe('pairedOverheadMs', () => {
  it('is the median of the rounds\' differences, per container', () => {
    // 50 containers; the tool 5 s over its dumps in every round, while the machine's speed swings between rounds.
    const dumps = [14, 18, 15.5];
    const tool = [19, 23, 20.5];
    expect(pairedOverheadMs(dumps, tool, 50)).toBeCloseTo(100, 6);
    // Rounds that disagree: differences 5, 3 and 6.5 s → 5 s → 100 ms; the medians' difference (21 − 15.5) says 110.
    expect(pairedOverheadMs([14, 18, 15.5], [19, 21, 22], 50)).toBeCloseTo(100, 6);
  });

  it('refuses runs that do not pair up', () => {
    expect(() => pairedOverheadMs([1, 2], [3], 10)).toThrow(/one dumps run and one tool run per round/);
    expect(() => pairedOverheadMs([], [], 10)).toThrow(/per round/);
  });
});
