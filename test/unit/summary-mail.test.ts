// The summary mail says everything a run could not do: failed backups, what they left behind (and how to remove it),
// due containers nobody backed up, backups whose process died, and those another run backed up.
import { describe, expect, it } from 'vitest';
import { buildSummaryMail } from '../../src/notify/summary-mail.js';
import { exitCodeOf } from '../../src/run/summary.js';
import { backupResult, runSummary } from '../helpers/summaries.js';

const identity = (s: string) => s;
const result = backupResult;
const summary = runSummary;

describe('the summary mail', () => {
  it('names what a failed backup left behind, with the command that removes each', () => {
    const failed = result('shop', {
      ok: false,
      errMsg: 'ERROR: pg_dump exited with code 1',
      leftBehind: [
        { key: 'mydb/shop.1/20261201T020007.000Z-abcdef/globals.sql', code: 'AccessDenied', message: 'Access Denied' },
        { key: 'mydb/shop.1/20261201T020007.000Z-abcdef/shop.dump', uploadId: 'upload-1', code: 'AccessDenied', message: 'Access Denied' },
      ],
    });
    const mail = buildSummaryMail(summary({ results: [failed] }), identity);
    expect(mail.text).toContain("LEFT BEHIND");
    expect(mail.text).toContain("shop: aws s3 rm 's3://bucket/mydb/shop.1/20261201T020007.000Z-abcdef/globals.sql'   (AccessDenied: Access Denied)");
    expect(mail.text).toContain(
      "shop: aws s3api abort-multipart-upload --bucket bucket --key 'mydb/shop.1/20261201T020007.000Z-abcdef/shop.dump' --upload-id 'upload-1'",
    );
    expect(mail.html).toContain('<h3>Left behind</h3>');
  });

  it('counts due containers nobody backed up and backups whose process died as failures: subject, sections, exit code', () => {
    const s = summary({
      results: [result('ok1')],
      missed: [{ name: 'busy', reason: 'not backed up: mydb-backup User host=h pid=1 was still backing it up after 15 min 0 s (BACKUP_CLAIM_WAIT)' }],
      abandoned: [{ name: 'dead', backupId: '2026-11-30_02:00:00', backupType: 'Daily', url: 's3://bucket/mydb/dead.2/x/', startedAt: new Date('2026-11-30T02:00:00Z') }],
    });
    const mail = buildSummaryMail(s, identity);
    expect(mail.subject).toBe('[mydb-backup] FAILED: 2 of 3 backups failed (mydb-backup nightly on backup-host)');
    expect(mail.text).toMatch(/NOT BACKED UP\n  busy: not backed up: mydb-backup User host=h pid=1 was still backing it up/);
    expect(mail.text).toMatch(/ABANDONED .*\n  dead \(Daily, 2026-11-30_02:00:00, started 2026-11-30T02:00:00.000Z\): s3:\/\/bucket\/mydb\/dead.2\/x\//);
    expect(exitCodeOf(s)).toBe(1);
  });

  it('files a container another run backed up under its own line, not under "not due"', () => {
    const mail = buildSummaryMail(summary({ results: [result('a')], covered: [{ name: 'shared', by: 'User backup 2026-12-01_02:01:00 (s3://bucket/x/)' }] }), identity);
    expect(mail.text).toContain('Backed up by another run while this one waited: shared (User backup 2026-12-01_02:01:00 (s3://bucket/x/))');
    expect(mail.text).not.toContain('Not due');
    expect(mail.subject).toContain('OK: 1 backups');
  });
});
