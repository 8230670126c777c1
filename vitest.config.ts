import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/compat/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real builds: debootstrap, nspawn, mkfs. They share the package cache and two cores.
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
          maxWorkers: 2,
          minWorkers: 1,
        },
      },
    ],
  },
});
