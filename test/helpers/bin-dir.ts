/** A PATH of chosen programs: what a host that lacks the others looks like to the tool. */
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** Fills `dir` with symlinks to `tools` as found on this PATH, and returns it. */
export async function binWith(dir: string, tools: readonly string[]): Promise<string> {
  for (const tool of tools) {
    const { stdout } = await execa('sh', ['-c', `command -v ${tool}`]);
    await symlink(stdout.trim(), join(dir, tool));
  }
  return dir;
}
