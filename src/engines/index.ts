// The one lookup from Info.dbengine to an engine. A new engine is one file plus one line in ENGINES.
import type { Engine } from './types.js';
import { mariadb } from './mariadb.js';
import { mongodb } from './mongodb.js';
import { postgres } from './postgres.js';

export const ENGINES: readonly Engine[] = [postgres, mariadb, mongodb];

export function findEngine(dbengine: string): Engine | undefined {
  const wanted = dbengine.trim().toLowerCase();
  return ENGINES.find((e) => e.name.toLowerCase() === wanted || e.aliases.includes(wanted));
}

export type { Engine, DumpStep, RestoreStep, Command, DumpSource, RestoreTarget, RestoreSource, LineFilter } from './types.js';
