/**
 * The runtime: the suite and bin/backup-all run on Node.js 24 (node_modules/.bin/node, package.json's
 * optionalDependencies) whatever node the machine has, and the launcher refuses an older one in one sentence.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/run-cli.js';

const PROJECT_NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const major = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

/** A node on the PATH older than 24 (the machine's own, when npm scripts put node_modules/.bin first), if any. */
async function olderNode(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (!dir || dir.includes('node_modules') || !existsSync(candidate)) continue;
    const run = await execa(candidate, ['--version'], { reject: false });
    if (run.exitCode === 0 && major(run.stdout) < 24) return candidate;
  }
  return undefined;
}
const oldNode = await olderNode();

describe('the runtime', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mydb-launcher-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the tests run on Node.js 24 or later, also when npm itself runs on an older node', () => {
    expect(major(process.versions.node)).toBeGreaterThanOrEqual(24);
  });

  it.skipIf(!existsSync(PROJECT_NODE))('started as a program (cron, a symlink on PATH), bin/backup-all runs on the Node.js in node_modules, not the PATH\'s', async () => {
    // First on this PATH: a node that only says it was used.
    const bin = join(dir, 'bin');
    await execa('mkdir', ['-p', bin]);
    await writeFile(join(bin, 'node'), '#!/bin/sh\necho "the PATH\'s node ran" >&2\nexit 97\n');
    await chmod(join(bin, 'node'), 0o755);
    await symlink(BIN, join(bin, 'backup-all'));
    const run = await execa(join(bin, 'backup-all'), ['--help'], {
      cwd: dir,
      env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` },
      extendEnv: false,
      reject: false,
    });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^Usage: backup-all /);
  });

  it('started as a program, an --env-file among its arguments reaches the tool, not node (which would act on it itself)', async () => {
    const missing = join(dir, 'no-such-env-file');
    const run = await execa(BIN, ['--env-file', missing, 'check'], { cwd: dir, reject: false });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`backup-all: cannot read env file ${missing}: ENOENT: no such file or directory, open '${missing}'\n`.trimEnd());
  });

  it.skipIf(!oldNode)(`refuses an older Node.js (${oldNode ?? 'none on this PATH'}) in one sentence, exit 3`, async () => {
    const run = await execa(oldNode!, [BIN, '--help'], { reject: false });
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^backup-all: could not start: it needs Node\.js 24 or later and \S+ is v\d+\.\d+\.\d+; [^\n]*\.$/);
  });
});
