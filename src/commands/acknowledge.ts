// `backup-all acknowledge NAME [--id N] [--note TEXT]`: an operator has looked at the changes the run flagged in a
// container's newest good backup and found them fine (a table dropped on purpose, a cleanup). One 'acknowledge'
// action_log row naming that backup; the audit then shows the container Good again (watch/flags.ts).
import { hostname, userInfo } from 'node:os';
import { latestBackupRows } from '../admin-db/audit-queries.js';
import { connectAdminDb } from '../admin-db/pool.js';
import { activeContainers } from '../admin-db/queries.js';
import { insertActionLog } from '../admin-db/restore-queries.js';
import { latestFlagRows } from '../admin-db/watch-queries.js';
import { evaluateContainer } from '../audit/evaluate.js';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Masker } from '../util/mask.js';
import { ACKNOWLEDGE_ACTION, acknowledgeDescription, flaggedChanges, standingFlag } from '../watch/flags.js';

export interface AcknowledgeOptions {
  name: string;
  id?: number;
  note?: string;
}

export async function runAcknowledge(config: Config, opts: AcknowledgeOptions, print: (line: string) => void, mask: Masker): Promise<number> {
  const db = await connectAdminDb(config.adminDbUrl, mask);
  try {
    const named = (await activeContainers(db)).filter((c) => (c.name === opts.name || c.rowName === opts.name) && (opts.id === undefined || c.id === opts.id));
    const container = named[0];
    if (!container) {
      throw new ConfigError(opts.id === undefined ? `no active container named '${opts.name}'` : `no active container with id ${opts.id} is called '${opts.name}'`);
    }
    if (named.length > 1) throw new ConfigError(`'${opts.name}' names ${named.length} active containers (ids ${named.map((c) => c.id).join(', ')}): say which with --id`);
    const rows = await latestBackupRows(db, [container]);
    const { lastSuccess } = evaluateContainer(container, rows, { now: new Date() });
    const flag = lastSuccess ? standingFlag((await latestFlagRows(db, [container.id])).get(container.id), lastSuccess.backupId) : undefined;
    const who = `'${container.name}' (id ${container.id})`;
    if (!lastSuccess || !flag) {
      print(`Nothing to acknowledge: ${lastSuccess ? `the newest good backup of ${who}, ${lastSuccess.backupId}, is not flagged` : `${who} has no good backup`}.`);
      return 0;
    }
    const description = mask(acknowledgeDescription(lastSuccess.backupId, `${userInfo().username}@${hostname()}`, opts.note));
    await insertActionLog(db, { cId: container.id, name: container.name, action: ACKNOWLEDGE_ACTION, description });
    print(mask(`Acknowledged backup ${lastSuccess.backupId} of ${who}: ${flaggedChanges(flag.description)}`));
    print('The audit shows it Good again (as long as it is on time); a later backup is compared afresh.');
    return 0;
  } finally {
    await db.end().catch(() => {});
  }
}
