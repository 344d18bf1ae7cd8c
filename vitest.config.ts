import { defineConfig } from 'vitest/config';

// Four kinds of tests, each runnable alone: `vitest run --project unit|int|e2e|chaos`.
// Integration and e2e tests start real nats-server/redis-server processes and the real bins; they
// run one file at a time so that short test timings are not disturbed by CPU contention.
// Tells the harness when a test failed, so that it saves the broker's streams beside the logs.
const SETUP = './test/support/vitest.setup.ts';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['**/*.unit.spec.ts'], exclude: ['**/node_modules/**', '**/dist/**'] } },
      {
        test: {
          name: 'int',
          setupFiles: [SETUP],
          include: ['**/*.int.spec.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The 60 s seeded fault run; `npm test` runs it after the other projects, alone (it is a whole
        // cluster under faults: sharing the CPU with e2e files would disturb both). `npm run chaos`
        // runs a longer one.
        test: {
          name: 'chaos',
          setupFiles: [SETUP],
          include: ['**/*.chaos.spec.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          setupFiles: [SETUP],
          include: ['**/*.e2e.spec.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
