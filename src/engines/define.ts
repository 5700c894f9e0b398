// An engine's definition: its name and key kept as literal types, so EngineKey and the name union are read off ENGINES.
import type { EngineDefinition } from './types.js';

export function defineEngine<const K extends string, const N extends string>(engine: EngineDefinition & { key: K; name: N }): EngineDefinition & { key: K; name: N } {
  return engine;
}
