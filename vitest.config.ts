import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Test files run in child processes, two at a time; each uses its own admin DB and buckets.
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    // Two projects so that `vitest run test/unit` starts no servers: vitest runs a project's global setup only when
    // some of its files run (the root config has none).
    projects: [
      {
        extends: true,
        // Pure code: no servers, no child processes (the setup file makes spawning one fail).
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['./test/unit/setup-no-processes.ts'] },
      },
      {
        extends: true,
        // Real servers (the rig) and real child processes.
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**'],
          globalSetup: ['./test/global-setup.ts'],
        },
      },
    ],
  },
});
