import { describe, expect, it } from 'vitest';
import type { Container, Frequency } from '../../src/admin-db/container-info.js';
import { planRun, type PlanInput } from '../../src/run/plan.js';

const c = (name: string, frequency: Frequency, extra: Partial<Container> = {}): Container => ({
  id: name.length,
  name,
  rowName: 'row',
  frequency,
  engine: 'Postgres',
  port: 32010,
  ...extra,
});
const containers = [c('daily', 'Daily'), c('weekly', 'Weekly'), c('none', 'None'), c('broken', 'Daily', { problem: 'Info.Port is missing' })];
const SATURDAY = 6;
const MONDAY = 1;

const plan = (over: Partial<PlanInput>) =>
  planRun({ containers, kind: 'nightly', weekday: MONDAY, weeklyDay: SATURDAY, weeklySeparateRun: false, ...over });
const names = (p: ReturnType<typeof planRun>) => p.backups.map((b) => `${b.container.name}:${b.backupType}`);

describe('planRun', () => {
  it.each([
    // weekday × separate weekly run → what the nightly run backs up
    [MONDAY, false, ['daily:Daily', 'broken:Daily']],
    [MONDAY, true, ['daily:Daily', 'broken:Daily']],
    [SATURDAY, false, ['daily:Daily', 'weekly:Weekly', 'broken:Daily']],
    [SATURDAY, true, ['daily:Daily', 'broken:Daily']],
  ])('nightly on weekday %i with separate weekly run %s', (weekday, weeklySeparateRun, expected) => {
    expect(names(plan({ weekday, weeklySeparateRun }))).toEqual(expected);
  });

  it.each([MONDAY, SATURDAY])('--weekly backs up only Weekly containers (weekday %i), never the Daily ones', (weekday) => {
    for (const weeklySeparateRun of [true, false]) {
      expect(names(plan({ kind: 'weekly', weekday, weeklySeparateRun }))).toEqual(['weekly:Weekly']);
    }
  });

  it('the weekly day is configurable', () => {
    expect(names(plan({ weekday: MONDAY, weeklyDay: MONDAY }))).toContain('weekly:Weekly');
  });

  it('never backs up a None container in a scheduled run, and says why', () => {
    const p = plan({ weekday: SATURDAY });
    expect(p.skipped).toContainEqual({ name: 'none', reason: 'backup_freq is None' });
  });

  it('named runs back up exactly the named containers, due or not, as Admin unless a type is given', () => {
    expect(names(plan({ kind: 'named', names: ['none', 'weekly'] }))).toEqual(['weekly:Admin', 'none:Admin']);
    expect(names(plan({ kind: 'named', names: ['daily'], backupType: 'User' }))).toEqual(['daily:User']);
  });

  it('reports names that match no active container', () => {
    expect(plan({ kind: 'named', names: ['daily', 'ghost'] }).unknownNames).toEqual(['ghost']);
  });
});
