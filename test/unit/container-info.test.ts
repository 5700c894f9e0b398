import { describe, expect, it } from 'vitest';
import { frequencyOf, parseContainer } from '../../src/admin-db/container-info.js';

describe('frequencyOf', () => {
  it.each([
    [{ backup_freq: 'Daily' }, 'Daily'],
    [{ backup_freq: 'weekly' }, 'Weekly'],
    [{ BACKUP_FREQ: 'WEEKLY' }, 'Weekly'],
    [{ labels: { backup_freq: 'None' } }, 'None'],
    [{ labels: { BACKUP_FREQ: 'weekly' } }, 'Weekly'],
    [{ backup_freq: '' }, 'None'],
    [{}, 'Daily'],
    [{ backup_freq: null }, 'Daily'],
  ])('%j → %s', (info, expected) => {
    expect(frequencyOf(info)).toBe(expected);
  });

  it('rejects unknown values clearly', () => {
    expect(frequencyOf({ backup_freq: 'Monthly' })).toEqual({ error: "backup_freq 'Monthly' is not Daily, Weekly or None" });
  });
});

describe('parseContainer', () => {
  it('reads Name, engine and a string or numeric Port', () => {
    expect(parseContainer(1, 'row', { Info: { Name: 'shop', dbengine: 'Postgres', Port: '32011', backup_freq: 'Weekly' } })).toEqual({
      id: 1,
      name: 'shop',
      rowName: 'row',
      engine: 'Postgres',
      port: 32011,
      frequency: 'Weekly',
    });
    expect(parseContainer(2, 'row', { Info: { Name: 'x', dbengine: 'MariaDB', Port: 32012 } }).port).toBe(32012);
  });

  it.each([
    [{ Info: { Name: 'a', dbengine: 'Postgres' } }, 'Info.Port is missing'],
    [{ Info: { Name: 'a', dbengine: 'Postgres', Port: 'abc' } }, 'Info.Port is not a number'],
    [{ Info: { Name: 'a', dbengine: 'Postgres', Port: 70000 } }, 'Info.Port is out of range'],
    [{ Info: { Name: 'a', Port: 1 } }, 'Info.dbengine is missing'],
    [{ Info: 'not an object' }, "containers.data has no 'Info' object"],
    [null, "containers.data has no 'Info' object"],
    [{ Info: { Name: 'a', dbengine: 'Postgres', Port: 1, backup_freq: 7 } }, 'backup_freq 7 is not a string'],
  ])('a broken row %j fails alone with a clear problem', (data, problem) => {
    const parsed = parseContainer(3, 'row-name', data);
    expect(parsed.problem).toBe(problem);
    expect(parsed.frequency).toBe('Daily');
  });

  it('falls back to the row name when Info.Name is missing', () => {
    expect(parseContainer(4, 'row-name', { Info: { dbengine: 'Postgres', Port: 1 } }).name).toBe('row-name');
  });
});
