import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/compat/**/*.test.ts'],
          testTimeout: 20_000,
          // Quick tests first; the slow image builds after them.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real builds: mmdebstrap, nspawn, mkfs. They share the package cache and the machine's cores.
          // One more file than cores: much of a build waits (downloads, fsync, a booting container's
          // timers, sleeps of the interrupt tests), and a third file fills those gaps.
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
