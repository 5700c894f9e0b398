// The summary mail with the backup watch: the subject says WARNING for a flagged good backup, a section names each
// change with its figures, and every compared backup shows its size over the last good backups (a text sparkline;
// HTML bars made of table cells, no script, no image, no SVG).
import { describe, expect, it } from 'vitest';
import { buildSummaryMail, summarySubject } from '../../src/notify/summary-mail.js';
import { changeSince, htmlBars, sparkline } from '../../src/notify/trend-chart.js';
import type { BackupResult } from '../../src/pipeline/backup-job.js';
import { exitCodeOf, type RunSummary } from '../../src/run/summary.js';
import type { BackupWatch } from '../../src/watch/watch-backups.js';
import { backupResult, runSummary } from '../helpers/summaries.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function result(name: string, id: number, over: Partial<BackupResult> = {}): BackupResult {
  const folder = `mydb/${name}.${id}/20261201T020007.000Z-abcdef/`;
  return backupResult(name, {
    cId: id,
    owner: { kind: 'container', id, name },
    folder,
    url: `s3://b/${folder}`,
    command: 'pg_dump …',
    bytes: 12 * MiB,
    durationMs: 65_000,
    manifest: { key: `${folder}manifest.json`, bytes: 900 },
    ...over,
  });
}

function watchOf(r: BackupResult, sizes: number[], over: Partial<BackupWatch> = {}): BackupWatch {
  const day = (i: number) => new Date(Date.UTC(2026, 10, 30 - (sizes.length - 1 - i), 2));
  return {
    name: r.name,
    cId: r.cId,
    backupId: r.backupId,
    folder: r.folder,
    url: r.url,
    trend: sizes.map((bytes, i) => ({ bytes, startedAt: day(i) })),
    changes: [],
    notes: [],
    ...over,
  };
}

function summary(results: BackupResult[], watch: BackupWatch[] | undefined, over: Partial<RunSummary> = {}): RunSummary {
  return runSummary({ host: 'backup1', finishedAt: new Date('2026-12-01T02:10:00Z'), results, ...(watch ? { watch } : {}), ...over });
}

const mask = (s: string) => s;
const shop = result('shop', 12, { bytes: 600 * KiB });
const crm = result('crm', 3, { bytes: 2 * MiB });
const shopFlagged = watchOf(shop, [12 * MiB, 12.1 * MiB, 12.2 * MiB, 600 * KiB], {
  changes: [
    { kind: 'rows-drop', database: 'shop', table: 'public.orders', rowsBefore: 30_000, rowsAfter: 1_500 },
    { kind: 'size-drop', bytes: 600 * KiB, medianBytes: 12.1 * MiB, backups: 3 },
  ],
});
const crmSteady = watchOf(crm, [1.9 * MiB, 2 * MiB, 2 * MiB]);

describe('the subject and the exit code', () => {
  it('OK when nothing is flagged', () => {
    expect(summarySubject(summary([shop, crm], [watchOf(shop, [600 * KiB, 600 * KiB]), crmSteady]))).toBe(
      '[mydb-backup] OK: 2 backups (mydb-backup nightly on backup1)',
    );
  });

  it('WARNING when a good backup is flagged: the run still succeeded (exit 0)', () => {
    const s = summary([shop, crm], [shopFlagged, crmSteady]);
    expect(summarySubject(s)).toBe('[mydb-backup] WARNING: 2 backups OK, 1 with suspicious changes (mydb-backup nightly on backup1)');
    expect(exitCodeOf(s)).toBe(0);
  });

  it('WARNING when a backup could not be compared; with problems too', () => {
    const s = summary([shop, crm], [watchOf(shop, [], { error: 'could not compare with the earlier backups: AccessDenied (HTTP 403): Access Denied' }), crmSteady], {
      problems: ['summary mail not sent: x'],
    });
    expect(summarySubject(s)).toBe('[mydb-backup] WARNING: 2 backups OK, 1 not compared with earlier backups, 1 problems (mydb-backup nightly on backup1)');
  });

  it('FAILED still wins over a flag', () => {
    const s = summary([shop, result('crm', 3, { ok: false, errMsg: 'ERROR: boom' })], [shopFlagged]);
    expect(summarySubject(s)).toMatch(/^\[mydb-backup\] FAILED: 1 of 2 backups failed/);
  });
});

describe('the text mail', () => {
  const { text } = buildSummaryMail(summary([shop, crm], [shopFlagged, crmSteady]), mask);

  it('a "Changes since the last backup" section: each change with its figures, and how to acknowledge', () => {
    const section = text.slice(text.indexOf('CHANGES SINCE THE LAST BACKUP'), text.indexOf('ALL BACKUPS'));
    expect(section).toContain('  shop (backup 2026-12-01_02:00:07):');
    expect(section).toContain('    - table shop.public.orders: 30,000 → 1,500 rows (−95%)');
    expect(section).toContain('    - size fell −95%: 600.0 KiB, against a median of 12.1 MiB over the previous 3 backups');
    expect(section).toContain('    Once checked: backup-all acknowledge shop --id 12');
    expect(section).not.toContain('crm');
  });

  it('the size over the last good backups: a sparkline and the change since the previous backup', () => {
    const lines = text.split('\n');
    const shopLine = lines.find((l) => l.startsWith('  shop ') && l.includes('█'));
    expect(shopLine).toContain('███▁');
    expect(shopLine).toContain('600.0 KiB  −95% (−11.6 MiB)  CHANGED');
    const crmLine = lines.find((l) => l.startsWith('  crm ') && l.includes('█'));
    expect(crmLine).toContain('███');
    expect(crmLine).toContain('2.0 MiB  ±0');
  });

  it('no changes section when nothing is flagged', () => {
    const plain = buildSummaryMail(summary([crm], [crmSteady]), mask).text;
    expect(plain).not.toContain('CHANGES SINCE');
    expect(plain).toContain('SIZE OVER THE LAST 14 GOOD BACKUPS');
  });

  it('a first backup says so', () => {
    const first = buildSummaryMail(summary([crm], [watchOf(crm, [2 * MiB], { notes: ['first backup: nothing to compare with'] })]), mask).text;
    expect(first).toMatch(/ crm +▄?█ +2\.0 MiB {2}first backup {2}\(first backup: nothing to compare with\)/);
  });
});

describe('the HTML mail', () => {
  const { html } = buildSummaryMail(summary([shop, crm], [shopFlagged, crmSteady]), mask);

  it('renders without scripts or external images: bars are table cells', () => {
    expect(html).not.toMatch(/<script|<img|<svg|url\(|javascript:/i);
    expect(html).toContain('<h3>Changes since the last backup</h3>');
    expect(html).toContain('<li>table shop.public.orders: 30,000 → 1,500 rows (−95%)</li>');
    // 4 bars for shop (the last red: flagged), 3 for crm.
    expect(html.match(/bgcolor="#d0342c"/g)).toHaveLength(1);
    expect(html.match(/<td width="6" height="\d+" bgcolor=/g)).toHaveLength(7);
    expect(html).toContain('title="2026-11-28: 12.1 MiB"');
  });
});

describe('trend-chart', () => {
  it('sparkline: from zero to the largest', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([100, 100, 50, 1])).toBe('██▅▁');
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([])).toBe('');
  });

  it('changeSince', () => {
    expect(changeSince(undefined, 5)).toBe('first backup');
    expect(changeSince(1000, 1000)).toBe('±0');
    expect(changeSince(100 * KiB, 50 * KiB)).toBe('−50% (−50.0 KiB)');
    expect(changeSince(0, 10)).toBe('(+10 B)');
  });

  it('htmlBars: heights from zero, one bar per backup, at least a pixel', () => {
    const bars = htmlBars([{ bytes: 0 }, { bytes: 50 }, { bytes: 100 }], false);
    expect([...bars.matchAll(/height="(\d+)" bgcolor/g)].map((m) => Number(m[1]))).toEqual([1, 12, 24]);
    expect(bars).toContain('bgcolor="#1f5fa8"');
  });
});
