// Debian and Ubuntu install PostgreSQL's client programs (pg_dump, pg_dumpall, pg_restore, psql) as links to
// pg_wrapper, a perl script that chooses a version and then runs the real program: tens of ms of CPU at every start,
// a large share of a small backup's cost (BENCHMARKS.md, "The fleet overhead"). With PGHOST in the environment, which
// every PostgreSQL command of the tool sets, pg_wrapper selects no cluster and runs the newest installed version that
// has the program (pg_wrapper(1)). This makes the same choice, once per program, so the tool starts that file itself.
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../engines/types.js';
import { findOnPath, isExecutableFile } from '../util/program-path.js';

export interface WrapperLayout {
  /** The wrapper's real path. */
  wrapper: string;
  /** Where the versions are: `{binRoot}/{version}/bin/{program}`. */
  binRoot: string;
  /** pg_wrapper's default for libpq's pg_service.conf, which it sets when the environment has none. */
  sysconfDir: string;
}

export const DEBIAN_LAYOUT: WrapperLayout = {
  wrapper: '/usr/share/postgresql-common/pg_wrapper',
  binRoot: '/usr/lib/postgresql',
  sysconfDir: '/etc/postgresql-common',
};

/** What to start instead of `program`: the file, and what pg_wrapper would have added to the environment. */
export interface DirectProgram {
  file: string;
  env: Record<string, string>;
}

const chosen = new Map<string, string | undefined>();

/**
 * The program pg_wrapper would run for `program` (a name looked up on `path`) in an environment `env`; undefined
 * when the name does not lead to pg_wrapper or the environment lacks PGHOST (then the wrapper's own choice stands).
 */
export function directProgram(
  program: string,
  env: Readonly<Record<string, string>> | undefined,
  path: string,
  layout: WrapperLayout = DEBIAN_LAYOUT,
): DirectProgram | undefined {
  if (typeof env?.PGHOST !== 'string' || program.includes('/')) return undefined;
  const key = [program, path, layout.wrapper, layout.binRoot].join('\0');
  if (!chosen.has(key)) chosen.set(key, newestBehindWrapper(program, path, layout));
  const file = chosen.get(key);
  return file ? { file, env: { PGSYSCONFDIR: env.PGSYSCONFDIR ?? layout.sysconfDir } } : undefined;
}

/** The command as the tool starts it: the program pg_wrapper would run in its place, with what the wrapper adds to the environment. */
export function startedAs(command: Command, path: string): Command {
  const [program = '', ...args] = command.argv;
  const direct = directProgram(program, command.env, path);
  return direct ? { ...command, argv: [direct.file, ...args], env: { ...command.env, ...direct.env } } : command;
}

function newestBehindWrapper(program: string, path: string, layout: WrapperLayout): string | undefined {
  const found = findOnPath(program, path);
  if (!found || realpathSync(found) !== layout.wrapper) return undefined;
  let versions: string[];
  try {
    versions = readdirSync(layout.binRoot);
  } catch {
    return undefined;
  }
  const newest = versions
    // pg_wrapper's own pattern for a version directory (PgCommon.pm, get_versions).
    .filter((v) => /^\d+\.?\d+$/.test(v) && isExecutableFile(join(layout.binRoot, v, 'bin', program)))
    .sort((a, b) => Number(a) - Number(b))
    .at(-1);
  return newest === undefined ? undefined : join(layout.binRoot, newest, 'bin', program);
}
