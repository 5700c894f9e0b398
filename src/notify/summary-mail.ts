// The summary mail, built from a RunSummary: failures first with their error, then suspicious changes of good
// backups, then every backup with its size over the last good backups. Pure.
import type { BackupResult } from '../pipeline/backup-job.js';
import type { RunSummary } from '../run/summary.js';
import { failedResults, failureCount, flaggedBackups } from '../run/summary.js';
import { formatBytes, formatDuration } from '../util/format.js';
import type { Masker } from '../util/mask.js';
import { describeChange } from '../watch/compare.js';
import { acknowledgeCommand } from '../watch/flags.js';
import { TREND_LENGTH, type BackupWatch } from '../watch/watch-backups.js';
import { changeSince, htmlBars, sparkline } from './trend-chart.js';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function summarySubject(s: RunSummary): string {
  const failed = failureCount(s);
  const due = s.results.length + s.missed.length + s.abandoned.length;
  const what = `mydb-backup ${s.kind} on ${s.host}`;
  if (s.interrupted) return `[mydb-backup] INTERRUPTED: ${what}, ${failed} of ${due} backups failed`;
  if (failed > 0) return `[mydb-backup] FAILED: ${failed} of ${due} backups failed (${what})`;
  const flagged = flaggedBackups(s).length;
  const uncompared = (s.watch ?? []).filter((w) => w.error).length;
  const warnings = [
    flagged ? `${flagged} with suspicious changes` : '',
    uncompared ? `${uncompared} not compared with earlier backups` : '',
    s.problems.length ? `${s.problems.length} problems` : '',
  ].filter(Boolean);
  if (warnings.length > 0) return `[mydb-backup] WARNING: ${s.results.length} backups OK, ${warnings.join(', ')} (${what})`;
  return `[mydb-backup] OK: ${s.results.length} backups (${what})`;
}

export function buildSummaryMail(s: RunSummary, mask: Masker): MailContent {
  const failures = failedResults(s);
  const ordered = [...failures, ...s.results.filter((r) => r.ok)];
  const totalBytes = s.results.reduce((n, r) => n + r.bytes, 0);
  const text: string[] = [
    `Run: ${s.kind} on ${s.host}, ${s.startedAt.toISOString()} → ${s.finishedAt.toISOString()} (${formatDuration(
      s.finishedAt.getTime() - s.startedAt.getTime(),
    )})`,
    `Backups: ${s.results.length}, failed: ${failures.length}, total size: ${formatBytes(totalBytes)}`,
    '',
  ];
  if (s.problems.length) text.push('PROBLEMS', ...s.problems.map((p) => `  - ${p}`), '');
  if (failures.length) {
    text.push('FAILED');
    for (const r of failures) text.push(`  ${r.name} (${r.backupType}, ${r.backupId}): ${r.errMsg}`);
    text.push('');
  }
  if (s.missed.length) text.push('NOT BACKED UP', ...s.missed.map((m) => `  ${m.name}: ${m.reason}`), '');
  const left = leftBehindLines(s);
  if (left.length) {
    text.push('LEFT BEHIND (failed backups could not remove these: a permission is missing, docs/iam-policy.md; remove them by hand)');
    text.push(...left.map((l) => `  ${l}`), '');
  }
  const earlier = earlierLeftoverLines(s);
  if (earlier.length) text.push('LEFTOVERS OF EARLIER RUNS', ...earlier.map((l) => `  ${l}`), '');
  if (s.abandoned.length) {
    text.push('ABANDONED (the process that started these died; their end rows say so now)');
    for (const a of s.abandoned) text.push(`  ${a.name} (${a.backupType}, ${a.backupId}, started ${a.startedAt.toISOString()}): ${a.url}`);
    text.push('');
  }
  if (s.verification.length) text.push(...s.verification, '');
  text.push(...changesText(s));
  text.push('ALL BACKUPS');
  for (const r of ordered) {
    text.push(
      `  ${r.ok ? 'OK    ' : 'FAILED'} ${r.name.padEnd(24)} ${r.backupType.padEnd(7)} ${formatBytes(r.bytes).padStart(10)} ${formatDuration(r.durationMs).padStart(12)}  ${r.url}`,
    );
  }
  text.push(...trendText(s));
  if (s.covered.length) text.push('', `Backed up by another run while this one waited: ${s.covered.map((c) => `${c.name} (${c.by})`).join(', ')}`);
  if (s.skipped.length) {
    text.push('', `Not backed up by this run: ${s.skipped.map((k) => `${k.name} (${k.reason})`).join(', ')}`);
  }

  const watchOf = watchLookup(s);
  const rowsHtml = ordered
    .map((r) => {
      const w = watchOf(r);
      const trend = w?.trend.length ? htmlBars(w.trend.map((p) => ({ bytes: p.bytes, ...(p.startedAt ? { label: p.startedAt.toISOString().slice(0, 10) } : {}) })), w.changes.length > 0) : '';
      const since = w ? escapeHtml(changeOf(w)) : '';
      return (
        `<tr style="background:${r.ok ? (w?.changes.length ? '#fff4d6' : '#fff') : '#fde2e2'}"><td>${r.ok ? (w?.changes.length ? 'OK, <b>changed</b>' : 'OK') : '<b>FAILED</b>'}</td><td>${escapeHtml(r.name)}</td>` +
        `<td>${r.backupType}</td><td style="text-align:right;white-space:nowrap">${formatBytes(r.bytes)}</td>` +
        `<td>${trend}</td><td style="text-align:right;white-space:nowrap">${since}</td>` +
        `<td style="text-align:right">${formatDuration(r.durationMs)}</td><td><code>${escapeHtml(r.url)}</code></td>` +
        `<td>${escapeHtml(r.errMsg.split('\n')[0] ?? '')}</td></tr>`
      );
    })
    .join('\n');
  const html = [
    `<h2>${escapeHtml(summarySubject(s))}</h2>`,
    `<p>${escapeHtml(text[0] ?? '')}<br>${escapeHtml(text[1] ?? '')}</p>`,
    s.problems.length ? `<h3>Problems</h3><ul>${s.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : '',
    failures.length
      ? `<h3>Failed</h3><ul>${failures.map((r) => `<li><b>${escapeHtml(r.name)}</b>: <pre>${escapeHtml(r.errMsg)}</pre></li>`).join('')}</ul>`
      : '',
    earlier.length ? `<h3>Leftovers of earlier runs</h3><ul>${earlier.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` : '',
    left.length ? `<h3>Left behind</h3><p>Failed backups could not remove these (a permission is missing: docs/iam-policy.md); remove them by hand:</p><pre>${escapeHtml(left.join('\n'))}</pre>` : '',
    s.missed.length ? `<h3>Not backed up</h3><ul>${s.missed.map((m) => `<li><b>${escapeHtml(m.name)}</b>: ${escapeHtml(m.reason)}</li>`).join('')}</ul>` : '',
    s.abandoned.length
      ? `<h3>Abandoned</h3><p>The process that started these died; their end rows say so now.</p><ul>${s.abandoned
          .map((a) => `<li><b>${escapeHtml(a.name)}</b> ${escapeHtml(a.backupType)} ${escapeHtml(a.backupId)}: <code>${escapeHtml(a.url)}</code></li>`)
          .join('')}</ul>`
      : '',
    s.covered.length ? `<p>Backed up by another run while this one waited: ${escapeHtml(s.covered.map((c) => `${c.name} (${c.by})`).join(', '))}</p>` : '',
    s.verification.length ? `<h3>Test restores</h3><pre>${escapeHtml(s.verification.join('\n'))}</pre>` : '',
    changesHtml(s),
    '<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-family:sans-serif;font-size:13px">',
    `<tr><th>Status</th><th>Container</th><th>Type</th><th>Size</th><th>Last ${TREND_LENGTH} good backups</th><th>Since the previous</th><th>Duration</th><th>S3 URL</th><th>Error</th></tr>`,
    rowsHtml,
    '</table>',
  ].join('\n');
  return { subject: mask(summarySubject(s)), text: mask(text.join('\n')), html: mask(html) };
}

/** What this run found of earlier runs: removed, not removable, backups found whole after their process died. */
function earlierLeftoverLines(s: RunSummary): string[] {
  const { completed, removed, notRemoved, notes } = s.cleanup;
  const shown = removed.slice(0, 20);
  return [
    ...notRemoved.map((n) => `could not remove ${n}`),
    ...(removed.length ? [`removed ${removed.length}: ${shown.join(', ')}${removed.length > shown.length ? ', …' : ''}`] : []),
    ...completed.map((c) => `${c.name}: backup ${c.backupId} was whole when its process died; its end row now says it succeeded`),
    ...notes,
  ];
}

/** What failed backups left in S3, each as the command that removes it. */
function leftBehindLines(s: RunSummary): string[] {
  const bucketOf = (url: string) => /^s3:\/\/([^/]+)\//.exec(url)?.[1] ?? '?';
  return s.results.flatMap((r) =>
    r.leftBehind.map((item) => {
      const bucket = bucketOf(r.url);
      const remove = item.uploadId
        ? `aws s3api abort-multipart-upload --bucket ${bucket} --key '${item.key}' --upload-id '${item.uploadId}'`
        : `aws s3 rm 's3://${bucket}/${item.key}'`;
      return `${r.name}: ${remove}   (${item.code}: ${item.message})`;
    }),
  );
}

/** The watch of a result (the same folder), if it was compared. */
function watchLookup(s: RunSummary): (r: BackupResult) => BackupWatch | undefined {
  const byFolder = new Map((s.watch ?? []).map((w) => [w.folder, w]));
  return (r) => (r.ok ? byFolder.get(r.folder) : undefined);
}

const changeOf = (w: BackupWatch) => changeSince(w.trend.at(-2)?.bytes, w.trend.at(-1)?.bytes ?? 0);

/** How an operator clears a container's flag (the admin DB's own backups are not audited: nothing to clear). */
const acknowledgeOf = (w: BackupWatch) => (w.cId === null ? undefined : acknowledgeCommand(w.name, w.cId));

const CHANGES_INTRO = 'The backups are good copies of what the containers held: check that they held what they should.';

function changesText(s: RunSummary): string[] {
  const flagged = flaggedBackups(s);
  const uncompared = (s.watch ?? []).filter((w) => w.error);
  const out: string[] = [];
  if (flagged.length) {
    out.push('CHANGES SINCE THE LAST BACKUP', `  ${CHANGES_INTRO}`);
    for (const w of flagged) {
      out.push(`  ${w.name} (backup ${w.backupId}):`, ...w.changes.map((c) => `    - ${describeChange(c)}`));
      const ack = acknowledgeOf(w);
      if (ack) out.push(`    Once checked: ${ack}`);
    }
    out.push('');
  }
  if (uncompared.length) out.push('NOT COMPARED WITH EARLIER BACKUPS (the backups stand)', ...uncompared.map((w) => `  ${w.name}: ${w.error}`), '');
  return out;
}

function changesHtml(s: RunSummary): string {
  const flagged = flaggedBackups(s);
  const uncompared = (s.watch ?? []).filter((w) => w.error);
  const parts: string[] = [];
  if (flagged.length) {
    parts.push(`<h3>Changes since the last backup</h3><p>${escapeHtml(CHANGES_INTRO)}</p>`);
    for (const w of flagged) {
      const ack = acknowledgeOf(w);
      parts.push(
        `<p><b>${escapeHtml(w.name)}</b> (backup ${escapeHtml(w.backupId)}):</p><ul>${w.changes.map((c) => `<li>${escapeHtml(describeChange(c))}</li>`).join('')}</ul>` +
          (ack ? `<p>Once checked: <code>${escapeHtml(ack)}</code></p>` : ''),
      );
    }
  }
  if (uncompared.length) {
    parts.push(`<h3>Not compared with earlier backups</h3><p>The backups stand.</p><ul>${uncompared.map((w) => `<li><b>${escapeHtml(w.name)}</b>: ${escapeHtml(w.error ?? '')}</li>`).join('')}</ul>`);
  }
  return parts.join('\n');
}

/** One line per compared backup: the sparkline of its last good backups, its size, the change, and notes. */
function trendText(s: RunSummary): string[] {
  const watched = (s.watch ?? []).filter((w) => w.trend.length > 0);
  if (!watched.length) return [];
  return [
    '',
    `SIZE OVER THE LAST ${TREND_LENGTH} GOOD BACKUPS (oldest → newest)`,
    ...watched.map((w) => {
      const size = formatBytes(w.trend.at(-1)?.bytes ?? 0);
      const notes = w.notes.length ? `  (${w.notes.join('; ')})` : '';
      return `  ${w.name.padEnd(24)} ${sparkline(w.trend.map((p) => p.bytes)).padStart(TREND_LENGTH)} ${size.padStart(10)}  ${changeOf(w)}${w.changes.length ? '  CHANGED' : ''}${notes}`;
    }),
  ];
}

/** The run never got going (admin DB down, another run holds the lock): say so, since there is no summary. */
export function buildCouldNotStartMail(kind: string, host: string, reason: string, mask: Masker): MailContent {
  const subject = `[mydb-backup] COULD NOT START: mydb-backup ${kind} on ${host}`;
  const text = [
    `The ${kind} backup run on ${host} could not start, so no backup was taken by it.`,
    '',
    `Reason: ${reason}`,
    '',
    'Run `backup-all check` on that host to see what is wrong.',
  ].join('\n');
  const html = `<h2>${escapeHtml(subject)}</h2><p>The ${escapeHtml(kind)} backup run on ${escapeHtml(host)} could not start, so no backup was taken by it.</p><p><b>Reason:</b> ${escapeHtml(reason)}</p><p>Run <code>backup-all check</code> on that host to see what is wrong.</p>`;
  return { subject: mask(subject), text: mask(text), html: mask(html) };
}
