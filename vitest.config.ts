import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/fixtures/**', '**/node_modules/**'],
    // Bounds on failure, not on speed: a busy or slow machine must pass too (test/helpers/wait.ts
    // stretches every deadline by CCM_TEST_SLOWDOWN, 5 unless set; these are 60 s stretched so).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    // Test files share one Postgres server and 2 cores, and several of them time real faults
    // (kill -9 loops, probes, timeouts): one file at a time keeps those timings honest.
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/no-leaks.ts'],
    // After-hooks run last-registered first: the leak check, registered before a file's own hooks,
    // runs after all of them (test/helpers/no-leaks.ts).
    sequence: { hooks: 'stack' },
  },
});
