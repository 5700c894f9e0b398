/**
 * `npm run demo`: a nightly run against throwaway local servers with sample data — no AWS account needed.
 * Starts the test rig (PostgreSQL ×3, MariaDB, moto S3, an SMTP sink), seeds an admin DB with containers, runs
 * `backup-all` as cron would, then shows what landed in S3, the summary mail and `backup-all audit`. Cleans up.
 */
import { execa } from 'execa';
import { createAdminDb } from '../test/helpers/admin-db.js';
import { toolEnv } from '../test/helpers/run-cli.js';
import { createBucket, headObject, listKeys, s3Client, startRig, startSmtp, type Rig } from '../test/rig/index.js';
import { formatBytes } from '../src/util/format.js';

const BIN = new URL('../bin/backup-all', import.meta.url).pathname;
const say = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  say('Starting throwaway servers (PostgreSQL, MariaDB, moto S3, SMTP sink)...');
  const rig: Rig = await startRig();
  const smtp = await startSmtp();
  try {
    await createAdminDb(rig.admin, 'mydb_admin', [
      { name: 'shop-prod', engine: 'Postgres', port: rig.pgA.port, freq: 'Daily' },
      { name: 'inventory', engine: 'Postgres', port: rig.pgB.port, freq: 'Weekly', freqKey: 'BACKUP_FREQ' },
      { name: 'crm', engine: 'MariaDB', port: rig.maria.port, freq: 'Daily' },
      { name: 'scratchpad', engine: 'Postgres', port: rig.pgB.port, freq: 'None', freqKey: 'labels' },
      { name: 'retired', engine: 'Postgres', port: rig.pgB.port, freq: 'Daily', state: 'exited' },
    ]);
    const s3 = s3Client(rig.moto.endpoint);
    const bucket = await createBucket(s3, 'mydb-demo-backups');
    const today = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][new Date().getDay()]!;
    const env = toolEnv(rig, { adminDb: 'mydb_admin', bucket, smtp, extra: { BACKUP_WEEKLY_DAY: today, PATH: process.env.PATH ?? '' } });

    say(`\n$ backup-all --dry-run\n`);
    await execa(process.execPath, [BIN, '--dry-run'], { env, extendEnv: false, stdio: 'inherit', reject: false });

    say(`\n$ backup-all            # the nightly run (weekly day set to today, so 'inventory' is due too)\n`);
    const run = await execa(process.execPath, [BIN], { env, extendEnv: false, stdio: 'inherit', reject: false });
    say(`\nexit code: ${run.exitCode}`);

    say('\nObjects in S3:');
    for (const key of await listKeys(s3, bucket)) {
      const head = await headObject(s3, bucket, key);
      say(`  s3://${bucket}/${key}  ${formatBytes(head.ContentLength ?? 0)}  SSE=${head.ServerSideEncryption}`);
    }
    const [mail] = await smtp.waitForMessages(1, 10_000);
    say(`\nThe summary mail to ${mail?.to.join(', ')}:\n  Subject: ${mail?.subject}\n`);
    say(mail?.text.replace(/^/gm, '  '));

    say(`\n$ backup-all audit\n`);
    await execa(process.execPath, [BIN, 'audit'], { env, extendEnv: false, stdio: 'inherit', reject: false });
    s3.destroy();
  } finally {
    await smtp.stop();
    await rig.stop();
    say('\nServers stopped, temp files removed.');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
