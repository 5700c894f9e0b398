// What the engines' restore plans and verifications share: asking the injected server for what only some servers
// have, and undoing what a failed restore created.
import type { TargetServer } from './types.js';
import { errorText } from '../errors.js';

type Optional = 'databaseState' | 'createDatabase' | 'userDatabases' | 'databases' | 'roles' | 'dropRole';

/** The server, with the methods the engine needs of it; throws when restore/ handed none or one without them. */
export function requireServer<K extends Optional>(server: TargetServer | undefined, engine: string, ...needed: K[]): TargetServer & Required<Pick<TargetServer, K>> {
  const missing = server === undefined ? ['a connection'] : needed.filter((m) => server[m] === undefined);
  if (server === undefined || missing.length) throw new Error(`a ${engine} target server must answer ${missing.join(', ')}`);
  return server as TargetServer & Required<Pick<TargetServer, K>>;
}

/** Drops each of `names` (databases or roles this restore created); never throws; says what it did. */
export async function dropCreated(what: 'database' | 'role', names: Iterable<string>, drop: (name: string) => Promise<void>): Promise<string[]> {
  const done: string[] = [];
  for (const name of names) {
    try {
      await drop(name);
      done.push(`dropped ${what} ${name}, which this restore had created`);
    } catch (err) {
      done.push(`could not drop ${what} ${name}, which this restore had created: ${errorText(err)}`);
    }
  }
  return done;
}
