// The one list of engines. A new engine is its own files plus one line in ENGINES (docs/architecture.md).
import { mariadb } from './mariadb.js';
import { mongodb } from './mongodb.js';
import { postgres } from './postgres.js';

export const ENGINES = [postgres, mariadb, mongodb] as const;

/** One of the engines. */
export type Engine = (typeof ENGINES)[number];
/** An engine's key (Config's credentials and compression; BACKUP_{KEY}_…). */
export type EngineKey = (typeof ENGINES)[number]['key'];
/** The dbengine value the web UI writes for each engine. */
export type EngineName = (typeof ENGINES)[number]['name'];

export function findEngine(dbengine: string): Engine | undefined {
  const wanted = dbengine.trim().toLowerCase();
  return ENGINES.find((e) => e.name.toLowerCase() === wanted || e.aliases.includes(wanted));
}

/** The engine whose objects these are, when no containers row or manifest says (a deleted container). */
export function engineOfObjects(objectNames: readonly string[]): Engine | undefined {
  return ENGINES.find((e) => e.ownsObjects(objectNames));
}

/** One value per engine, by key. */
export function perEngine<T>(value: (engine: Engine) => T): Record<EngineKey, T> {
  const entries = ENGINES.map((e) => [e.key, value(e)] as const);
  return Object.fromEntries(entries) as Record<EngineKey, T>;
}

export type { EngineDefinition, DumpStep, RestoreStep, Command, DumpSource, RestoreTarget, RestoreSource, LineFilter } from './types.js';
