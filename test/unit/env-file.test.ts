/**
 * Issue 12, the env file's syntax (README, "The env file"): every documented way of writing a value reads back
 * exactly; every line that some reader of such files would cut or read differently is an error naming the line,
 * never its value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEnvFile, parseEnvFile, readEnvFile } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const parse = (text: string) => parseEnvFile(text, 'env file F');

/** The message of the ConfigError that reading `text` throws. */
function problemOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(text)}`);
}

describe('env file values', () => {
  it.each([
    ['plain value', 'K=plain value', 'plain value'],
    ['spaces around an unquoted value are dropped', 'K =   spaced out   ', 'spaced out'],
    ['a comment after a space', 'K=value # the comment', 'value'],
    ['# in single quotes', "K='abc#def'", 'abc#def'],
    ['# in double quotes', 'K="abc#def"', 'abc#def'],
    ['a double quote in single quotes', `K='say "hi"'`, 'say "hi"'],
    ['a single quote in double quotes', `K="it's"`, "it's"],
    ['both quote kinds in backticks', 'K=`a\'b"c#d`', `a'b"c#d`],
    ['a backslash in single quotes, literally', "K='C:\\dir\\new'", 'C:\\dir\\new'],
    ['a backslash in backticks, literally', 'K=`a\\"b\\n`', 'a\\"b\\n'],
    ['leading and trailing spaces in quotes', "K='  padded  '", '  padded  '],
    ['a tab in quotes', "K='a\tb'", 'a\tb'],
    ['empty', 'K=', ''],
    ['empty quotes', "K=''", ''],
    ['empty before a comment', 'K= # nothing yet', ''],
    ['a comment after a closing quote', "K='x y'   # note", 'x y'],
    ['a comment right after a closing quote', 'K="x"#note', 'x'],
    ['export', 'export K=v', 'v'],
    ['no expansion', 'K=$HOME/${USER}', '$HOME/${USER}'],
    ['= and URL characters', 'K=postgresql://u:p%40ss@h:5432/db?a=b&c=d', 'postgresql://u:p%40ss@h:5432/db?a=b&c=d'],
  ])('%s', (_what, line, value) => {
    expect(parse(`# a comment\n\n${line}\n`)).toEqual({ K: value });
  });

  it('reads CRLF files, a byte order mark, indented comments and several settings', () => {
    expect(parse('\uFEFFA=1\r\n  # indented comment\r\n\r\nB=\'x y\'\r\nexport C="z"\r\n')).toEqual({ A: '1', B: 'x y', C: 'z' });
  });

  it('reads .backup_env.example as documented', () => {
    const example = readEnvFile(fileURLToPath(new URL('../../.backup_env.example', import.meta.url)));
    expect(example).toMatchObject({
      TZ: 'Europe/Zurich',
      SMTP_REQUIRE_TLS: 'true',
      SMTP_FROM: 'MyDB backups <mydb-backup@example.org>',
      AWS_BUCKET_NAME: 's3://example-mydb-backups/mydb',
    });
  });
});

describe('env file lines that are not read as written', () => {
  it.each([
    ['an unquoted #', 'K=abc#def', 'line 3 (K): a # inside a value must be quoted'],
    ['an unquoted double quote', 'K=abc"def', 'line 3 (K): a value holding a quote or a backslash must be quoted'],
    ['an unquoted single quote', "K=abc'def", 'line 3 (K): a value holding a quote or a backslash must be quoted'],
    ['an unquoted backslash', 'K=abc\\def', 'line 3 (K): a value holding a quote or a backslash must be quoted'],
    ['an unquoted tab', 'K=abc\tdef', 'line 3 (K): a tab or other control character must be inside quotes'],
    ['a tab before a comment', 'K=abc\t# c', 'line 3 (K): a tab or other control character must be inside quotes'],
    ['an escaped quote in double quotes', 'K="abc\\"def\'x"', 'line 3 (K): a backslash inside "…" is read differently'],
    ['a newline escape in double quotes', 'K="abc\\ndef"', 'line 3 (K): a backslash inside "…" is read differently'],
    ['no closing quote', 'K="abcdef', "line 3 (K): the value's opening \" has no closing \" on the same line"],
    ['text after the closing quote', "K='abc'def", 'line 3 (K): text follows the closing quote'],
    ['a quoted part and more', 'K="abc" def', 'line 3 (K): text follows the closing quote'],
    ['no =', 'just some words', 'line 3 is not KEY=value'],
    ['no key', '=abcdef', 'line 3 is not KEY=value'],
    ['a space in the key', 'MY KEY=abcdef', 'line 3 is not KEY=value'],
    ['a dot in the key', 'MY.KEY=abcdef', 'line 3 is not KEY=value'],
    ['a tab before the key', '\tK=abcdef', 'line 3 is not KEY=value'],
    ['two spaces after export', 'export  K=abcdef', 'line 3 is not KEY=value'],
    ['a ; comment', '; abcdef', 'line 3 is not KEY=value'],
  ])('%s', (_what, line, message) => {
    const problem = problemOf(`A=1\n# two good lines first\n${line}\nB=2\n`);
    expect(problem).toContain(`env file F, ${message}`);
    // The value may be a password: the message names the line, never what it holds.
    expect(problem).not.toContain('def');
  });

  it('a key set twice', () => {
    expect(problemOf('A=1\nB=2\nA=3\n')).toBe('env file F, line 3 sets A again (first on line 1)');
  });

  it('a file that cannot be read', () => {
    expect(() => readEnvFile('/nonexistent/backup_env')).toThrow(/^cannot read env file \/nonexistent\/backup_env: ENOENT/);
  });
});

describe('applyEnvFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'env-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds what the environment does not set; the environment wins, even when it is empty', async () => {
    const path = join(dir, 'backup_env');
    await writeFile(path, 'TZ=Asia/Kolkata\nAWS_PROFILE=backup\nSMTP_HOST=mail.example\nLOG_LEVEL=debug\n');
    const env: NodeJS.ProcessEnv = { TZ: 'UTC', SMTP_HOST: '' };
    applyEnvFile(path, env);
    expect(env).toEqual({ TZ: 'UTC', SMTP_HOST: '', AWS_PROFILE: 'backup', LOG_LEVEL: 'debug' });
  });
});
