/**
 * setupFiles of the unit project: a unit test that starts a child process fails at once, naming the rule. Tests that
 * run processes (or need the rig's servers) belong at the top level of test/.
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

const refuse = (name: string) => () => {
  throw new Error(`child_process.${name}() in a unit test: test/unit runs no processes; move this test to the top level of test/`);
};
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = refuse(name);
}
// `import { spawn } from 'node:child_process'` sees the replacement too.
syncBuiltinESMExports();
