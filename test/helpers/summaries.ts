/** Run results and summaries built by hand, for the code that turns them into mails, pings and exit codes. */
import type { BackupResult } from '../../src/pipeline/backup-job.js';
import type { RunSummary } from '../../src/run/summary.js';

/** A successful backup of container `name` (id 1) into bucket `bucket`; `over` changes any of it. */
export function backupResult(name: string, over: Partial<BackupResult> = {}, bucket = 'bucket'): BackupResult {
  const folder = `mydb/${name}.1/20261201T020007.000Z-abcdef/`;
  return {
    name,
    cId: 1,
    owner: { kind: 'container', id: 1, name },
    backupType: 'Daily',
    backupId: '2026-12-01_02:00:07',
    folder,
    url: `s3://${bucket}/${folder}`,
    command: '',
    ok: true,
    errMsg: '',
    bytes: 1000,
    durationMs: 1000,
    objects: [],
    leftBehind: [],
    ...over,
  };
}

/** A nightly run on backup-host that did nothing; `over` fills it. */
export function runSummary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    kind: 'nightly',
    host: 'backup-host',
    startedAt: new Date('2026-12-01T02:00:00Z'),
    finishedAt: new Date('2026-12-01T02:05:00Z'),
    results: [],
    skipped: [],
    covered: [],
    missed: [],
    abandoned: [],
    cleanup: { completed: [], removed: [], notRemoved: [], notes: [] },
    problems: [],
    interrupted: false,
    verification: [],
    ...over,
  };
}
