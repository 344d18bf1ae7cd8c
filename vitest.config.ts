import { defineConfig } from 'vitest/config';

// Three kinds of tests, each runnable alone: `vitest run --project unit|int|e2e`.
// Integration and e2e tests start real nats-server/redis-server processes and the real bins; they
// run one file at a time so that short test timings are not disturbed by CPU contention.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['**/*.unit.spec.ts'], exclude: ['**/node_modules/**', '**/dist/**'] } },
      {
        test: {
          name: 'int',
          include: ['**/*.int.spec.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
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
