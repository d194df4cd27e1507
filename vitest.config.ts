import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share one Postgres server and 2 cores, and several of them time real faults
    // (kill -9 loops, probes, timeouts): one file at a time keeps those timings honest.
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
