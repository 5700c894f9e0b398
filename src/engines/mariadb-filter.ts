// Restoring part of a MariaDB backup, or under other names: an edit of mariadb-dump's --all-databases output, line
// by line. Pure: the pipeline applies it to the stream between the decompressor and the mariadb client.
//
// The dump is a sequence of sections, each opened by a `-- Current Database: `name`` comment (a database can have
// several: its views come at the end). Inside a section the statements that name the database itself are
// `DROP DATABASE IF EXISTS`, `CREATE DATABASE` and `USE`; tables, routines, triggers and views are unqualified.
// Data never starts a line with `--` (mariadb-dump escapes newlines in values), so the comments are reliable.
import type { LineFilter } from './types.js';

/** The server's own schemas: never restored under another name, nor into a scratch database. */
export const MARIADB_SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

/** The completion comment mariadb-dump writes last (with its default --comments). */
export const MARIADB_DUMP_COMPLETE = '-- Dump completed';

const SECTION = /^-- Current Database: `((?:[^`]|``)+)`\s*$/;
const FOOTER = /^\/\*!40103 SET TIME_ZONE=@OLD_TIME_ZONE \*\/;/;

const quoteName = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const unquoteName = (quoted: string) => quoted.replace(/``/g, '`');

/**
 * Keeps the databases `rename` maps to a name (under that name) and drops the others' sections; the header and the
 * footer (session settings, the completion comment) pass. `end()` throws when no database was kept, naming the
 * databases the dump does hold.
 */
export function mariadbDatabaseFilter(rename: (database: string) => string | null, wanted: string): LineFilter {
  const seen = new Set<string>();
  /** Sections kept so far. */
  let kept = 0;
  /** The current section: undefined in the header and footer, null in a section left out, else [from, to]. */
  let section: [string, string] | null | undefined;
  let inFooter = false;

  const renameLine = (line: string, [from, to]: [string, string]): string => {
    if (from === to) return line;
    const q = quoteName(from);
    if (line === `USE ${q};`) return `USE ${quoteName(to)};`;
    if (/^(\/\*!40000 DROP DATABASE IF EXISTS |CREATE DATABASE )/.test(line)) return line.replace(q, quoteName(to));
    return line;
  };

  return {
    line(text) {
      const opened = SECTION.exec(text);
      if (opened?.[1] !== undefined) {
        const from = unquoteName(opened[1]);
        seen.add(from);
        inFooter = false;
        const to = rename(from);
        if (to === null) {
          section = null;
          return null;
        }
        kept += 1;
        section = [from, to];
        return `-- Current Database: ${quoteName(to)} (${quoteName(from)} in the backup)`;
      }
      if (text.startsWith(MARIADB_DUMP_COMPLETE)) return text;
      if (FOOTER.test(text)) inFooter = true;
      if (inFooter || section === undefined) return text;
      if (section === null) return null;
      return renameLine(text, section);
    },
    end() {
      if (kept === 0) {
        const held = [...seen].filter((d) => !(MARIADB_SYSTEM_DATABASES as readonly string[]).includes(d));
        throw new Error(`the backup holds no ${wanted} (its databases: ${held.length ? held.join(', ') : 'none'})`);
      }
    },
  };
}
