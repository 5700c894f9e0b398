import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackupLogRow } from '../../src/admin-db/audit-queries.js';
import type { Container, Frequency } from '../../src/admin-db/container-info.js';
import {
  AUDIT_STATUSES,
  auditExitCode,
  evaluateAudit,
  evaluateContainer,
  formatAge,
  pairAttempts,
  rowsByContainer,
  type AuditOptions,
  type AuditResult,
  type AuditStatus,
} from '../../src/audit/evaluate.js';
import { escapeLabelValue, renderPrometheus } from '../../src/audit/prometheus.js';
import { auditJson, renderAuditTable, writeFileAtomic } from '../../src/commands/audit.js';
import { acknowledgeDescription, suspiciousDescription } from '../../src/watch/flags.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const NOW = new Date('2024-06-12T08:00:00Z');
const ago = (ms: number, now = NOW) => new Date(now.getTime() - ms);

let nextId = 1;
function row(over: Partial<BackupLogRow> & Pick<BackupLogRow, 'state' | 'backupId' | 'ts'>): BackupLogRow {
  return { id: nextId++, cId: 1, name: 'shop', backupType: 'Daily', url: 's3://b/mydb/shop/x/', errMsg: '', ...over };
}
/** A finished backup: 'start' at `start`, 'end' `durationMs` later (err_msg `errMsg`). */
function backup(backupId: string, start: Date, durationMs: number, over: Partial<BackupLogRow> = {}): BackupLogRow[] {
  const { errMsg = '', ...rest } = over;
  return [
    row({ state: 'start', backupId, ts: start, ...rest }),
    row({ state: 'end', backupId, ts: new Date(start.getTime() + durationMs), errMsg, ...rest }),
  ];
}
const started = (backupId: string, start: Date, over: Partial<BackupLogRow> = {}) => [row({ state: 'start', backupId, ts: start, ...over })];

const container = (frequency: Frequency = 'Daily', over: Partial<Container> = {}): Container => ({
  id: 1,
  name: 'shop',
  rowName: 'row',
  frequency,
  engine: 'Postgres',
  port: 32010,
  ...over,
});

const evaluate = (rows: BackupLogRow[], freq: Frequency = 'Daily', opts: Partial<AuditOptions> = {}) =>
  evaluateContainer(container(freq), rows, { now: NOW, ...opts });
const statusOf = (rows: BackupLogRow[], freq: Frequency = 'Daily', opts: Partial<AuditOptions> = {}): AuditStatus =>
  evaluate(rows, freq, opts).status;

describe('evaluateContainer: one status per container', () => {
  it('Good: the newest backup finished and started inside the window', () => {
    const r = evaluate(backup('2024-06-12_02:00:00', ago(6 * HOUR), 7 * MIN));
    expect(r.status).toBe('Good');
    expect(r.ok).toBe(true);
    expect(r.lastSuccess?.durationMs).toBe(7 * MIN);
    expect(r.lastSuccess?.startedAt).toEqual(ago(6 * HOUR));
    expect(r.lastSuccessAgeMs).toBe(6 * HOUR);
    expect(r.lastAttempt?.backupId).toBe('2024-06-12_02:00:00');
    expect(r.detail).toBe('Daily backup 2024-06-12_02:00:00 took 7 min');
  });

  it('Out of Policy: the newest backup succeeded but started before the window', () => {
    const r = evaluate(backup('old', ago(3 * DAY), 5 * MIN));
    expect(r.status).toBe('Out of Policy');
    expect(r.ok).toBe(false);
    expect(r.lastSuccess?.backupId).toBe('old');
    expect(r.detail).toContain('3 d 0 h ago');
  });

  it('Running: the newest start has no end and is younger than the max run time', () => {
    const rows = [...backup('yesterday', ago(DAY), 5 * MIN), ...started('now', ago(40 * MIN))];
    const r = evaluate(rows);
    expect(r.status).toBe('Running');
    expect(r.ok).toBe(true);
    expect(r.lastAttempt).toMatchObject({ backupId: 'now' });
    expect(r.lastAttempt?.endedAt).toBeUndefined();
    expect(r.lastSuccess?.backupId).toBe('yesterday');
  });

  it('Abandoned: the newest start has no end and no live process holds the container (its claim is free)', () => {
    const rows = [...backup('yesterday', ago(DAY), 5 * MIN), ...started('now', ago(40 * MIN))];
    expect(statusOf(rows, 'Daily', { liveClaims: new Set([1]) })).toBe('Running');
    const r = evaluate(rows, 'Daily', { liveClaims: new Set([2]) });
    expect(r.status).toBe('Abandoned');
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('now started 40 min ago, has no end row, and no process is backing it up');
    // A finished backup is judged as before, held or not.
    expect(statusOf(backup('done', ago(HOUR), 5 * MIN), 'Daily', { liveClaims: new Set() })).toBe('Good');
  });

  it('Started but did not finish: the newest start has no end and is older than the max run time', () => {
    const rows = [...backup('before', ago(2 * DAY), 5 * MIN), ...started('hung', ago(13 * HOUR))];
    const r = evaluate(rows);
    expect(r.status).toBe('Started but did not finish');
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('hung started 13 h 0 min ago');
  });

  it('Running vs did not finish: the limit is the max run time, exclusive (default 12 h)', () => {
    expect(statusOf(started('x', ago(12 * HOUR - 1)))).toBe('Running');
    expect(statusOf(started('x', ago(12 * HOUR)))).toBe('Started but did not finish');
    expect(statusOf(started('x', ago(2 * HOUR)), 'Daily', { maxRunMs: 2 * HOUR })).toBe('Started but did not finish');
    expect(statusOf(started('x', ago(20 * HOUR)), 'Weekly', { maxRunMs: DAY })).toBe('Running');
  });

  it('Failed: the newest end carries an err_msg starting with ERROR; the first line is the failing message', () => {
    const rows = [
      ...backup('good', ago(DAY + HOUR), 5 * MIN),
      ...backup('bad', ago(HOUR), MIN, { errMsg: 'ERROR: pg_dump exited with code 1\npg_dump: error: connection refused' }),
    ];
    const r = evaluate(rows);
    expect(r.status).toBe('Failed');
    expect(r.ok).toBe(false);
    expect(r.error).toBe('ERROR: pg_dump exited with code 1');
    expect(r.lastAttempt).toMatchObject({ backupId: 'bad', ok: false });
    expect(r.lastSuccess?.backupId).toBe('good');
    expect(r.detail).toBe('Daily backup bad: ERROR: pg_dump exited with code 1');
  });

  it('an err_msg that does not start with ERROR is not a failure (the web UI reads it the same way)', () => {
    expect(statusOf(backup('w', ago(HOUR), MIN, { errMsg: 'warning: slow upload' }))).toBe('Good');
    expect(statusOf(backup('e', ago(HOUR), MIN, { errMsg: '  ERROR: indented' }))).toBe('Failed');
  });

  it('No backups: a container with a policy and no rows', () => {
    const r = evaluate([]);
    expect(r).toMatchObject({ status: 'No backups', ok: false });
    expect(r.lastAttempt).toBeUndefined();
    expect(r.lastSuccess).toBeUndefined();
  });

  it('No policy: backup_freq None, with or without backups; reported, never failing', () => {
    expect(evaluate([], 'None')).toMatchObject({ status: 'No policy', ok: true });
    const r = evaluate(backup('ancient', ago(300 * DAY), MIN), 'None');
    expect(r).toMatchObject({ status: 'No policy', ok: true });
    expect(r.lastSuccess?.backupId).toBe('ancient');
  });

  it('a container that cannot be backed up says why in the detail', () => {
    const r = evaluateContainer(container('Daily', { problem: 'Info.Port is missing' }), [], { now: NOW });
    expect(r.status).toBe('No backups');
    expect(r.problem).toBe('Info.Port is missing');
    expect(r.detail).toContain('cannot be backed up: Info.Port is missing');
  });
});

describe('policy window edges (start age vs window + grace)', () => {
  it.each([
    // frequency, grace, start age, status
    ['Daily', 0, DAY - 1, 'Good'],
    ['Daily', 0, DAY, 'Good'],
    ['Daily', 0, DAY + 1, 'Out of Policy'],
    ['Daily', undefined, DAY + 2 * HOUR - 1, 'Good'],
    ['Daily', undefined, DAY + 2 * HOUR, 'Good'],
    ['Daily', undefined, DAY + 2 * HOUR + 1, 'Out of Policy'],
    ['Daily', 30 * MIN, DAY + 31 * MIN, 'Out of Policy'],
    ['Weekly', 0, 7 * DAY, 'Good'],
    ['Weekly', 0, 7 * DAY + 1, 'Out of Policy'],
    ['Weekly', undefined, 7 * DAY + 2 * HOUR, 'Good'],
    ['Weekly', undefined, 7 * DAY + 2 * HOUR + 1, 'Out of Policy'],
    ['Weekly', undefined, 3 * DAY, 'Good'],
  ] as const)('%s, grace %s ms, started %s ms ago → %s', (freq, graceMs, age, expected) => {
    const opts = graceMs === undefined ? {} : { graceMs };
    expect(statusOf(backup('b', ago(age), 10 * MIN), freq, opts)).toBe(expected);
  });

  it('the start counts, not the end: a long backup that ended inside the window but started before it is out', () => {
    expect(statusOf(backup('long', ago(DAY + 3 * HOUR), 4 * HOUR), 'Daily')).toBe('Out of Policy');
  });

  it('a start in the future (clock skew) is inside the window', () => {
    expect(statusOf(backup('skew', new Date(NOW.getTime() + 5 * MIN), MIN))).toBe('Good');
  });
});

describe('time: real elapsed UTC time, whatever the local zone', () => {
  it('a backup that ran across midnight: duration and status from the instants', () => {
    const start = new Date('2024-06-11T23:40:00Z');
    const end = new Date('2024-06-12T01:05:30Z');
    const rows = [row({ state: 'start', backupId: '2024-06-12_01:40:00', ts: start }), row({ state: 'end', backupId: '2024-06-12_01:40:00', ts: end })];
    const r = evaluateContainer(container(), rows, { now: new Date('2024-06-12T23:00:00Z') });
    expect(r.status).toBe('Good');
    expect(r.lastSuccess?.durationMs).toBe(HOUR + 25 * MIN + 30_000);
    expect(evaluateContainer(container(), rows, { now: new Date('2024-06-13T01:40:01Z'), graceMs: 0 }).status).toBe('Out of Policy');
  });

  // Europe/Berlin: clocks went back on 2024-10-27 (03:00 CEST → 02:00 CET, at 01:00 UTC).
  it('autumn DST: 01:30 local to 01:29 local next night is 24 h 59 min of real time', () => {
    const lastStart = new Date('2024-10-26T23:30:00Z'); // 01:30 CEST, Oct 27
    const now = new Date('2024-10-28T00:29:00Z'); // 01:29 CET, Oct 28: wall clock says 23 h 59 min later
    const rows = backup('2024-10-27_01:30:00', lastStart, 10 * MIN);
    expect(evaluateContainer(container(), rows, { now, graceMs: 0 }).status).toBe('Out of Policy');
    expect(evaluateContainer(container(), rows, { now }).status).toBe('Good'); // the default grace absorbs it
  });

  // Clocks went forward on 2024-03-31 (02:00 CET → 03:00 CEST, at 01:00 UTC).
  it('spring DST: 01:30 local to 02:20 local next night is 23 h 50 min of real time', () => {
    const lastStart = new Date('2024-03-31T00:30:00Z'); // 01:30 CET, Mar 31
    const now = new Date('2024-04-01T00:20:00Z'); // 02:20 CEST, Apr 1: wall clock says 24 h 50 min later
    expect(evaluateContainer(container(), backup('b', lastStart, 10 * MIN), { now, graceMs: 0 }).status).toBe('Good');
  });

  describe('the same results under any process TZ', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });
    const containers = [container('Daily'), container('Weekly', { id: 2, name: 'crm' }), container('Daily', { id: 3, name: 'wiki' })];
    const now = new Date('2024-10-27T08:00:00Z');
    const rows = [
      ...backup('a', new Date('2024-10-26T06:30:00Z'), 50 * MIN),
      ...backup('b', new Date('2024-10-20T07:00:00Z'), 3 * HOUR, { cId: 2, name: 'crm', backupType: 'Weekly' }),
      ...started('c', new Date('2024-10-27T00:59:00Z'), { cId: 3, name: 'wiki' }),
    ];
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Pacific/Chatham', 'Asia/Kolkata'];

    it.each(zones)('TZ=%s', (zone) => {
      vi.stubEnv('TZ', zone);
      // Node applies a TZ change at once; if it did not, this test would prove nothing.
      const offset = new Date('2024-01-15T12:00:00Z').getTimezoneOffset();
      expect(offset).toBe({ UTC: 0, 'Europe/Berlin': -60, 'America/New_York': 300, 'Pacific/Chatham': -825, 'Asia/Kolkata': -330 }[zone]);
      const results = evaluateAudit(containers, rows, { now });
      expect(results.map((r) => [r.name, r.status, r.lastSuccess?.durationMs, r.lastSuccessAgeMs, r.detail])).toEqual([
        ['shop', 'Good', 50 * MIN, DAY + 90 * MIN, 'Daily backup a took 50 min'],
        ['crm', 'Good', 3 * HOUR, 7 * DAY + HOUR, 'Weekly backup b took 3 h 0 min'],
        ['wiki', 'Running', undefined, undefined, 'Daily backup c running for 7 h 1 min'],
      ]);
    });

    it('the table shows the last success in local time', () => {
      vi.stubEnv('TZ', 'Europe/Berlin');
      const table = renderAuditTable(evaluateAudit(containers, rows, { now }), now);
      expect(table[1]).toContain('2024-10-26 08:30'); // 06:30 UTC = 08:30 CEST
      vi.stubEnv('TZ', 'America/New_York');
      expect(renderAuditTable(evaluateAudit(containers, rows, { now }), now)[1]).toContain('2024-10-26 02:30');
    });
  });
});

describe('pairing start and end rows', () => {
  it('newest start without its end while an older backup ends later: the newest start decides (Running)', () => {
    // The nightly 'a' starts, a User backup 'b' starts, 'a' ends: newest start and newest end differ.
    const rows = [
      row({ state: 'start', backupId: 'a', ts: ago(3 * HOUR) }),
      row({ state: 'start', backupId: 'b', ts: ago(2 * HOUR), backupType: 'User' }),
      row({ state: 'end', backupId: 'a', ts: ago(HOUR) }),
    ];
    const r = evaluate(rows);
    expect(r.status).toBe('Running');
    expect(r.lastAttempt).toMatchObject({ backupId: 'b', backupType: 'User' });
    expect(r.lastSuccess).toMatchObject({ backupId: 'a', durationMs: 2 * HOUR });
  });

  it('the same, once the newest start is older than the max run time: Started but did not finish', () => {
    const rows = [
      row({ state: 'start', backupId: 'a', ts: ago(20 * HOUR) }),
      row({ state: 'start', backupId: 'b', ts: ago(19 * HOUR) }),
      row({ state: 'end', backupId: 'a', ts: ago(18 * HOUR) }),
    ];
    expect(statusOf(rows)).toBe('Started but did not finish');
  });

  it('backups ending out of order: the newest start finished, so it decides', () => {
    const rows = [
      row({ state: 'start', backupId: 'a', ts: ago(4 * HOUR) }),
      row({ state: 'start', backupId: 'b', ts: ago(3 * HOUR) }),
      row({ state: 'end', backupId: 'b', ts: ago(2 * HOUR) }),
      row({ state: 'end', backupId: 'a', ts: ago(HOUR), errMsg: 'ERROR: killed' }),
    ];
    const r = evaluate(rows);
    expect(r.status).toBe('Good');
    expect(r.lastAttempt?.backupId).toBe('b');
  });

  it("an 'end' with no 'start' of its backup_id pairs with nothing and is ignored", () => {
    const rows = [...backup('a', ago(5 * HOUR), MIN), row({ state: 'end', backupId: 'orphan', ts: ago(HOUR), errMsg: 'ERROR: x' })];
    const r = evaluate(rows);
    expect(r.status).toBe('Good');
    expect(r.lastAttempt?.backupId).toBe('a');
    expect(statusOf([row({ state: 'end', backupId: 'orphan', ts: ago(HOUR) })])).toBe('No backups');
  });

  it("an 'end' older than its backup_id's newest 'start' does not close it", () => {
    const rows = [
      row({ state: 'start', backupId: 'dup', ts: ago(30 * HOUR) }),
      row({ state: 'end', backupId: 'dup', ts: ago(29 * HOUR) }),
      row({ state: 'start', backupId: 'dup', ts: ago(20 * HOUR) }),
    ];
    const attempts = pairAttempts(rows);
    expect(attempts.map((a) => [a.startedAt, a.ok])).toEqual([
      [ago(20 * HOUR), undefined],
      [ago(30 * HOUR), true],
    ]);
    expect(statusOf(rows)).toBe('Started but did not finish');
  });

  it('rows without a backup_id, and states other than start/end, are ignored', () => {
    const rows = [...backup('a', ago(HOUR), MIN), row({ state: 'start', backupId: null, ts: ago(MIN) }), row({ state: 'queued', backupId: 'q', ts: ago(MIN) })];
    expect(evaluate(rows).lastAttempt?.backupId).toBe('a');
  });

  it('equal timestamps: the row id orders them', () => {
    const t = ago(HOUR);
    const rows = [row({ state: 'start', backupId: 'x', ts: t }), row({ state: 'end', backupId: 'x', ts: t })];
    expect(evaluate(rows)).toMatchObject({ status: 'Good', lastSuccess: { durationMs: 0 } });
    expect(evaluate([...rows].reverse()).status).toBe('Good'); // input order does not matter
  });

  it('the newest success is reported even when older than several failures', () => {
    const rows = [
      ...backup('ok', ago(4 * DAY), 2 * MIN),
      ...backup('f1', ago(3 * DAY), MIN, { errMsg: 'ERROR: 1' }),
      ...backup('f2', ago(2 * DAY), MIN, { errMsg: 'ERROR: 2' }),
      ...backup('f3', ago(DAY), MIN, { errMsg: 'ERROR: 3' }),
    ];
    const r = evaluate(rows);
    expect(r).toMatchObject({ status: 'Failed', error: 'ERROR: 3', lastSuccess: { backupId: 'ok' } });
    expect(r.lastSuccessAgeMs).toBe(4 * DAY);
  });
});

describe('rowsByContainer: c_id first, name when c_id is NULL', () => {
  const shop = container('Daily', { id: 10, name: 'shop' });
  const crm = container('Daily', { id: 11, name: 'crm' });

  it('matches NULL c_id rows by name, and rows with a c_id only by c_id', () => {
    const legacy = backup('legacy', ago(2 * DAY), MIN, { cId: null, name: 'shop' });
    const current = backup('current', ago(HOUR), MIN, { cId: 10, name: 'shop' });
    // An earlier container also named crm (id 5, deleted): its rows must not count for today's crm.
    const oldCrm = backup('old-crm', ago(2 * HOUR), MIN, { cId: 5, name: 'crm' });
    const map = rowsByContainer([shop, crm], [...legacy, ...current, ...oldCrm]);
    expect(map.get(10)?.map((r) => r.backupId)).toEqual(['legacy', 'legacy', 'current', 'current']);
    expect(map.get(11)).toEqual([]);
    const results = evaluateAudit([shop, crm], [...legacy, ...current, ...oldCrm], { now: NOW });
    expect(results.map((r) => r.status)).toEqual(['Good', 'No backups']);
  });

  it('a container whose only rows have c_id NULL is audited from them', () => {
    const rows = backup('legacy', ago(3 * HOUR), MIN, { cId: null, name: 'crm' });
    expect(evaluateAudit([shop, crm], rows, { now: NOW }).map((r) => r.status)).toEqual(['No backups', 'Good']);
  });

  it('a start with c_id and its end with c_id NULL (or the reverse) still pair', () => {
    const rows = [
      row({ state: 'start', backupId: 'mixed', ts: ago(HOUR), cId: 10, name: 'shop' }),
      row({ state: 'end', backupId: 'mixed', ts: ago(HOUR - MIN), cId: null, name: 'shop' }),
    ];
    expect(evaluateAudit([shop], rows, { now: NOW })[0]?.status).toBe('Good');
  });
});

describe('auditExitCode', () => {
  const result = (status: AuditStatus, frequency: Frequency = 'Daily'): AuditResult =>
    ({ status, frequency, ok: status === 'Good' || status === 'Running' || status === 'No policy' }) as AuditResult;

  it.each([
    [['Good', 'Running', 'No policy'], 0],
    [[], 0],
    [['Good', 'Out of Policy'], 1],
    [['Good', 'Failed'], 1],
    [['Started but did not finish'], 1],
    [['No backups'], 1],
  ] as [AuditStatus[], number][])('%j → %i', (statuses, code) => {
    expect(auditExitCode(statuses.map((s) => result(s)))).toBe(code);
  });

  it('agrees with evaluateAudit on real results', () => {
    const containers = [container('Daily'), container('None', { id: 2, name: 'nopolicy' })];
    expect(auditExitCode(evaluateAudit(containers, backup('b', ago(HOUR), MIN), { now: NOW }))).toBe(0);
    expect(auditExitCode(evaluateAudit(containers, backup('b', ago(3 * DAY), MIN), { now: NOW }))).toBe(1);
  });
});

describe('formatAge', () => {
  it.each([
    [30_000, '<1 min'],
    [45 * MIN, '45 min'],
    [5 * HOUR + 3 * MIN, '5 h 3 min'],
    [3 * DAY + 4 * HOUR + 59 * MIN, '3 d 4 h'],
    [-2 * HOUR, 'in 2 h 0 min'],
  ])('%i ms → %s', (ms, text) => expect(formatAge(ms)).toBe(text));
});

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text format: a small parser that enforces the exposition format.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}`;
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|NaN|[+-]Inf)';
const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})(?: -?\\d+)?$`);

function parseExposition(text: string): { help: Map<string, string>; types: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith('\n')).toBe(true);
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const finished = new Set<string>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (current && current !== name) finished.add(current);
      expect(finished.has(name), `${name}: metadata after its samples`).toBe(false);
      current = name;
      if (kind === 'HELP') {
        expect(help.has(name), `${name}: HELP twice`).toBe(false);
        expect(types.has(name), `${name}: HELP after TYPE`).toBe(false);
        help.set(name, rest);
      } else {
        expect(types.has(name), `${name}: TYPE twice`).toBe(false);
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
        types.set(name, rest);
      }
      continue;
    }
    expect(line.startsWith('#'), `unexpected comment: ${line}`).toBe(false);
    const m = SAMPLE_RE.exec(line);
    expect(m, `not a valid sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const name = m![1]!;
    expect(help.has(name) && types.has(name), `${name}: HELP and TYPE must precede its samples`).toBe(true);
    if (current !== name) {
      expect(finished.has(name), `${name}: samples not grouped together`).toBe(false);
      if (current) finished.add(current);
      current = name;
    }
    const labels: Record<string, string> = {};
    for (const lm of (m![2] ?? '').matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, 'g'))) {
      labels[lm[1]!] = lm[2]!.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name, labels, value: Number(m![3]!.replace('Inf', 'Infinity')) });
  }
  const keys = samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  expect(new Set(keys).size, 'duplicate series').toBe(keys.length);
  return { help, types, samples };
}

describe('renderPrometheus', () => {
  const weird = 'we"ird\\name\nnext';
  const containers = [
    container('Daily'),
    container('Weekly', { id: 2, name: weird, engine: 'MariaDB' }),
    container('None', { id: 3, name: 'scratch', engine: 'MongoDB' }),
  ];
  const rows = [
    ...backup('a', ago(5 * HOUR), 90_000),
    ...backup('b', ago(2 * HOUR), MIN, { cId: 2, name: weird, errMsg: 'ERROR: mariadb-dump: "x" \\ failed' }),
  ];
  const results = evaluateAudit(containers, rows, { now: NOW });
  const text = renderPrometheus({ results, now: NOW, sizes: new Map([['shop', 123_456_789]]), rows: new Map([['shop', 42_010]]) });
  const { samples, types } = parseExposition(text);
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  it('parses as the exposition format, every family a gauge with HELP and TYPE', () => {
    expect([...types.keys()]).toEqual([
      'mydb_backup_last_success_timestamp_seconds',
      'mydb_backup_last_duration_seconds',
      'mydb_backup_last_size_bytes',
      'mydb_backup_last_rows',
      'mydb_backup_failed',
      'mydb_backup_suspicious',
      'mydb_backup_status',
      'mydb_backup_audit_timestamp_seconds',
    ]);
    expect(new Set(types.values())).toEqual(new Set(['gauge']));
  });

  it('last success time (its end) and duration per container; absent without a success', () => {
    const [success] = find('mydb_backup_last_success_timestamp_seconds', { container: 'shop' });
    expect(success).toMatchObject({ labels: { container: 'shop', engine: 'Postgres', frequency: 'Daily' } });
    expect(success!.value).toBe((NOW.getTime() - 5 * HOUR + 90_000) / 1000);
    expect(find('mydb_backup_last_duration_seconds', { container: 'shop' })[0]?.value).toBe(90);
    expect(find('mydb_backup_last_success_timestamp_seconds', { container: weird })).toEqual([]);
    expect(find('mydb_backup_last_success_timestamp_seconds')).toHaveLength(1);
  });

  it('size and rows only where known', () => {
    expect(find('mydb_backup_last_size_bytes')).toEqual([
      { name: 'mydb_backup_last_size_bytes', labels: { container: 'shop', engine: 'Postgres', frequency: 'Daily' }, value: 123_456_789 },
    ]);
    expect(find('mydb_backup_last_rows')).toEqual([
      { name: 'mydb_backup_last_rows', labels: { container: 'shop', engine: 'Postgres', frequency: 'Daily' }, value: 42_010 },
    ]);
    expect(renderPrometheus({ results, now: NOW })).not.toContain('mydb_backup_last_size_bytes');
    expect(renderPrometheus({ results, now: NOW })).not.toContain('mydb_backup_last_rows');
  });

  it('suspicious: 1 for a Suspicious container, 0 for the others; its status series says so', () => {
    const flags = new Map([[1, { suspicious: { description: suspiciousDescription('a', 's3://b/x/', ['table shop.public.orders: 30,000 → 10 rows (−100%)']), at: NOW } }]]);
    const flagged = evaluateAudit(containers, rows, { now: NOW }, flags);
    const parsed = parseExposition(renderPrometheus({ results: flagged, now: NOW })).samples;
    expect(parsed.filter((x) => x.name === 'mydb_backup_suspicious').map((x) => [x.labels.container, x.value])).toEqual([
      ['shop', 1],
      [weird, 0],
      ['scratch', 0],
    ]);
    expect(parsed.find((x) => x.name === 'mydb_backup_status' && x.labels.container === 'shop' && x.value === 1)?.labels.status).toBe('Suspicious');
    expect(find('mydb_backup_suspicious').every((x) => x.value === 0)).toBe(true);
  });

  it('failed and status per container; label values escaped and read back intact', () => {
    expect(find('mydb_backup_failed').map((s) => [s.labels.container, s.value])).toEqual([
      ['shop', 0],
      [weird, 1],
      ['scratch', 0],
    ]);
    for (const r of results) {
      const states = find('mydb_backup_status', { container: r.name });
      expect(states.map((s) => s.labels.status)).toEqual([...AUDIT_STATUSES]);
      expect(states.filter((s) => s.value === 1).map((s) => s.labels.status)).toEqual([r.status]);
    }
    expect(text).toContain('container="we\\"ird\\\\name\\nnext"');
    expect(find('mydb_backup_status', { container: weird, status: 'Failed' })[0]?.value).toBe(1);
  });

  it('the audit time', () => {
    expect(find('mydb_backup_audit_timestamp_seconds')).toEqual([{ name: 'mydb_backup_audit_timestamp_seconds', labels: {}, value: NOW.getTime() / 1000 }]);
  });

  it('no containers: still a valid file with the audit time', () => {
    const empty = parseExposition(renderPrometheus({ results: [], now: NOW }));
    expect(empty.samples.map((s) => s.name)).toEqual(['mydb_backup_audit_timestamp_seconds']);
  });

  it('two active containers with one name do not produce duplicate series', () => {
    const twins = evaluateAudit([container('Daily'), container('Daily', { id: 9 })], rows, { now: NOW });
    expect(twins.map((r) => r.name)).toEqual(['shop', 'shop']);
    const { samples: twinSamples } = parseExposition(renderPrometheus({ results: twins, now: NOW }));
    const series = twinSamples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
    expect(new Set(series).size).toBe(series.length);
    // One container's series: its failed flag once, its status once per status.
    expect(twinSamples.filter((s) => s.name === 'mydb_backup_failed')).toHaveLength(1);
    expect(twinSamples.filter((s) => s.name === 'mydb_backup_status')).toHaveLength(AUDIT_STATUSES.length);
  });

  it('escapeLabelValue', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });
});

describe('Suspicious: a good, timely backup whose contents changed (watch/flags.ts)', () => {
  const url = 's3://b/mydb/shop.1/20240612T020000.000Z-abcdef/';
  const flagRow = (backupId: string) => ({ description: suspiciousDescription(backupId, url, ['table shop.public.orders: 30,000 → 1,500 rows (−95%)']), at: ago(5 * HOUR) });
  const ackRow = (backupId: string) => ({ description: acknowledgeDescription(backupId, 'alice@ops1'), at: ago(HOUR) });
  const good = backup('2024-06-12_02:00:00', ago(6 * HOUR), 7 * MIN);

  it('the newest backup is the flagged one: Suspicious, failing the audit, saying what changed and how to clear it', () => {
    const r = evaluateContainer(container('Daily'), good, { now: NOW }, { suspicious: flagRow('2024-06-12_02:00:00') });
    expect(r).toMatchObject({ status: 'Suspicious', ok: false, suspicious: { changes: '1 change since the last backup: table shop.public.orders: 30,000 → 1,500 rows (−95%)', flaggedAt: ago(5 * HOUR) } });
    expect(r.detail).toBe(
      'Daily backup 2024-06-12_02:00:00 took 7 min, but what it holds changed: 1 change since the last backup: table shop.public.orders: 30,000 → 1,500 rows (−95%); once checked: backup-all acknowledge shop --id 1',
    );
    expect(auditExitCode([r])).toBe(1);
  });

  it('Good again once acknowledged, or once a later backup was not flagged', () => {
    expect(evaluateContainer(container('Daily'), good, { now: NOW }, { suspicious: flagRow('2024-06-12_02:00:00'), acknowledged: ackRow('2024-06-12_02:00:00') }).status).toBe('Good');
    expect(evaluateContainer(container('Daily'), good, { now: NOW }, { suspicious: flagRow('2024-06-11_02:00:00') }).status).toBe('Good');
  });

  it('a failed, running-late or out-of-policy newest backup says more than the flag', () => {
    const flags = { suspicious: flagRow('2024-06-12_02:00:00') };
    const failedAfter = [...good, ...backup('2024-06-12_07:00:00', ago(HOUR), MIN, { errMsg: 'ERROR: boom' })];
    expect(evaluateContainer(container('Daily'), failedAfter, { now: NOW }, flags).status).toBe('Failed');
    const old = backup('2024-06-12_02:00:00', ago(3 * DAY), MIN);
    expect(evaluateContainer(container('Daily'), old, { now: NOW }, flags).status).toBe('Out of Policy');
  });

  it('the table and --json show it', () => {
    const results = evaluateAudit([container('Daily')], good, { now: NOW }, new Map([[1, { suspicious: flagRow('2024-06-12_02:00:00') }]]));
    expect(renderAuditTable(results, NOW)[1]).toMatch(/^shop\s+Postgres\s+Daily\s+Suspicious\s+/);
    expect(renderAuditTable(results, NOW).at(-1)).toBe('1 containers: 1 Suspicious. 1 fail the audit.');
    const doc = JSON.parse(JSON.stringify(auditJson(results, { now: NOW, graceMs: 2 * HOUR, maxRunMs: 12 * HOUR })));
    expect(doc.counts).toMatchObject({ Good: 0, Suspicious: 1 });
    expect(doc.containers[0]).toMatchObject({ status: 'Suspicious', ok: false, suspicious: { flaggedAt: ago(5 * HOUR).toISOString() } });
  });
});

describe('output', () => {
  const containers = [container('Daily'), container('Weekly', { id: 2, name: 'crm', engine: 'MariaDB' })];
  const rows = [...backup('a', ago(5 * HOUR), 90_000), ...backup('b', ago(HOUR), MIN, { cId: 2, name: 'crm', errMsg: 'ERROR: boom\nmore' })];
  const results = evaluateAudit(containers, rows, { now: NOW });

  it('the table: a header, one line per container, a summary', () => {
    const lines = renderAuditTable(results, NOW);
    expect(lines[0]).toMatch(/^CONTAINER\s+ENGINE\s+FREQUENCY\s+STATUS\s+LAST SUCCESS\s+AGE\s+DETAIL$/);
    expect(lines[1]).toMatch(/^shop\s+Postgres\s+Daily\s+Good\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+5 h 0 min\s+Daily backup a took 1 min$/);
    expect(lines[2]).toMatch(/^crm\s+MariaDB\s+Weekly\s+Failed\s+-\s+-\s+Daily backup b: ERROR: boom$/);
    expect(lines.at(-1)).toBe('2 containers: 1 Good, 1 Failed. 1 fail the audit.');
    expect(renderAuditTable([], NOW)).toEqual(['no active containers']);
  });

  it('the JSON document', () => {
    const doc = JSON.parse(JSON.stringify(auditJson(results, { now: NOW, graceMs: 2 * HOUR, maxRunMs: 12 * HOUR })));
    expect(doc).toMatchObject({ ok: false, auditedAt: NOW.toISOString(), graceSeconds: 7200, maxRunSeconds: 43200 });
    expect(doc.counts).toMatchObject({ Good: 1, Failed: 1, Running: 0 });
    expect(doc.containers[0]).toMatchObject({
      name: 'shop',
      status: 'Good',
      ok: true,
      lastSuccess: { backupId: 'a', startedAt: ago(5 * HOUR).toISOString(), durationSeconds: 90, ok: true },
      lastSuccessAgeSeconds: 5 * 3600,
    });
    expect(doc.containers[1]).toMatchObject({ name: 'crm', status: 'Failed', error: 'ERROR: boom', lastSuccess: null, lastAttempt: { ok: false } });
  });

  it('writeFileAtomic replaces the file and leaves no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-prom-'));
    try {
      const file = join(dir, 'mydb_backup.prom');
      await writeFileAtomic(file, 'old\n');
      await writeFileAtomic(file, 'new\n');
      expect(await readFile(file, 'utf8')).toBe('new\n');
      expect(await readdir(dir)).toEqual(['mydb_backup.prom']);
      await expect(writeFileAtomic(join(dir, 'missing', 'x.prom'), 'x')).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
