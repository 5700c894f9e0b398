// The PostgreSQL program the tool starts in place of Debian's pg_wrapper: the one the wrapper would run.
import { realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directProgram, type WrapperLayout } from '../../src/pipeline/pg-wrapper.js';

async function executable(path: string, body = '#!/bin/sh\n'): Promise<void> {
  await writeFile(path, body);
  await chmod(path, 0o755);
}

/** A wrapper, versions 9.6, 12 and 15 (15 without pg_restore, 12 with a pg_dump that may not run), and a PATH. */
async function fakeLayout(): Promise<{ layout: WrapperLayout; bin: string; other: string }> {
  const root = realpathSync(await mkdtemp(join(tmpdir(), 'pg-wrapper-')));
  const layout: WrapperLayout = { wrapper: join(root, 'share/pg_wrapper'), binRoot: join(root, 'lib/postgresql'), sysconfDir: '/etc/postgresql-common' };
  await mkdir(join(root, 'share'));
  await executable(layout.wrapper);
  for (const [version, programs] of [['9.6', ['pg_dump', 'pg_restore']], ['12', ['pg_dump', 'pg_restore']], ['15', ['pg_dump']], ['latest', ['pg_dump']]] as const) {
    await mkdir(join(layout.binRoot, version, 'bin'), { recursive: true });
    for (const p of programs) await executable(join(layout.binRoot, version, 'bin', p));
  }
  const bin = join(root, 'bin');
  await mkdir(bin);
  for (const p of ['pg_dump', 'pg_restore', 'psql']) await symlink(layout.wrapper, join(bin, p));
  // A directory before it on PATH with its own pg_dump (the tests' stand-ins, a source build).
  const other = join(root, 'other');
  await mkdir(other);
  await executable(join(other, 'pg_dump'));
  return { layout, bin, other };
}

describe('directProgram', () => {
  it('chooses as pg_wrapper does with PGHOST set: the newest version directory that has the program', async () => {
    const { layout, bin } = await fakeLayout();
    const env = { PGHOST: 'db.example', PGPORT: '5433' };
    expect(directProgram('pg_dump', env, bin, layout)).toEqual({ file: join(layout.binRoot, '15/bin/pg_dump'), env: { PGSYSCONFDIR: '/etc/postgresql-common' } });
    // 15 has no pg_restore: 12's; and 12 sorts after 9.6 as a number, not as a string.
    expect(directProgram('pg_restore', env, bin, layout)?.file).toBe(join(layout.binRoot, '12/bin/pg_restore'));
    // No version has psql: the wrapper's own error is left to it.
    expect(directProgram('psql', env, bin, layout)).toBeUndefined();
    expect(directProgram('pg_dump', { ...env, PGSYSCONFDIR: '/srv/pg' }, bin, layout)?.env).toEqual({ PGSYSCONFDIR: '/srv/pg' });
  });

  it('leaves the program alone without PGHOST, when PATH finds something else first, or for a path', async () => {
    const { layout, bin, other } = await fakeLayout();
    expect(directProgram('pg_dump', {}, bin, layout)).toBeUndefined();
    expect(directProgram('pg_dump', undefined, bin, layout)).toBeUndefined();
    expect(directProgram('pg_dump', { PGHOST: 'h' }, `${other}:${bin}`, layout)).toBeUndefined();
    expect(directProgram('pg_restore', { PGHOST: 'h' }, `${other}:${bin}`, layout)?.file).toBe(join(layout.binRoot, '12/bin/pg_restore'));
    expect(directProgram(join(bin, 'pg_dump'), { PGHOST: 'h' }, bin, layout)).toBeUndefined();
    expect(directProgram('zstd', { PGHOST: 'h' }, bin, layout)).toBeUndefined();
    // An empty PATH entry is the current directory, as for execvp: what is there is found first.
    const cwd = process.cwd();
    try {
      process.chdir(other);
      expect(directProgram('pg_dump', { PGHOST: 'h' }, `:${bin}`, layout)).toBeUndefined();
      expect(directProgram('pg_restore', { PGHOST: 'h' }, `:${bin}`, layout)?.file).toBe(join(layout.binRoot, '12/bin/pg_restore'));
    } finally {
      process.chdir(cwd);
    }
  });
});
