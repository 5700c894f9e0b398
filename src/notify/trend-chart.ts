// A container's backup sizes as a small chart in the summary mail. Text: a sparkline of block characters. HTML: a row
// of table cells with a height and a background colour each: no script, no image, no SVG, because mail clients strip
// SVG (Gmail) or do not draw it (Outlook's Word engine), block images and data: URLs by default, and run no script;
// a table with bgcolor and height attributes is what all of them draw. Bars start from zero, so a backup half the
// size is a bar half the height, and a day's jitter of a few percent does not look like a cliff. Pure.
import { formatBytes } from '../util/format.js';

const BLOCKS = '▁▂▃▄▅▆▇█';

/** `▅▅▆▆▆▇█▁`: one character per value, from 0 (▁) to the largest (█). */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => BLOCKS[max > 0 ? Math.round((Math.max(0, v) / max) * (BLOCKS.length - 1)) : 0]).join('');
}

/** `+1.2% (+150.0 KiB)`, `−98% (−11.9 MiB)`, `±0`: this backup against the previous one. */
export function changeSince(previous: number | undefined, current: number): string {
  if (previous === undefined) return 'first backup';
  const delta = current - previous;
  if (delta === 0) return '±0';
  const sign = delta > 0 ? '+' : '−';
  const percent = previous > 0 ? Math.abs((delta / previous) * 100) : Infinity;
  const shown = !Number.isFinite(percent) ? '' : percent >= 10 ? `${Math.round(percent)}%` : `${percent.toFixed(1)}%`;
  return `${shown ? `${sign}${shown} ` : ''}(${sign}${formatBytes(Math.abs(delta))})`;
}

const BAR_HEIGHT = 24;
const BAR_WIDTH = 6;
const COLOUR = '#7fa7d4';
const LAST = '#1f5fa8';
const FLAGGED = '#d0342c';

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The bars, oldest first; the last one (this backup) darker, red when it is flagged. Each bar's title says its
 * size (and date), for clients that show it.
 */
export function htmlBars(points: readonly { bytes: number; label?: string }[], lastFlagged: boolean): string {
  const max = Math.max(0, ...points.map((p) => p.bytes));
  const cells = points.map((p, i) => {
    const height = Math.max(1, max > 0 ? Math.round((Math.max(0, p.bytes) / max) * BAR_HEIGHT) : 1);
    const colour = i === points.length - 1 ? (lastFlagged ? FLAGGED : LAST) : COLOUR;
    const title = escapeAttr(`${p.label ? `${p.label}: ` : ''}${formatBytes(p.bytes)}`);
    return (
      `<td valign="bottom" style="padding:0 1px 0 0;vertical-align:bottom" title="${title}">` +
      `<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>` +
      `<td width="${BAR_WIDTH}" height="${height}" bgcolor="${colour}" style="width:${BAR_WIDTH}px;height:${height}px;background-color:${colour};font-size:0;line-height:0">&nbsp;</td>` +
      `</tr></table></td>`
    );
  });
  return (
    `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse">` +
    `<tr height="${BAR_HEIGHT}" style="height:${BAR_HEIGHT}px">${cells.join('')}</tr></table>`
  );
}
