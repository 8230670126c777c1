import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/compat/**/*.test.ts'],
          testTimeout: 20_000,
          // Pure code: the files share their workers (no fresh process and module graph per file) and
          // use every core. 43 s → 15 s for the unit tests on 2 cores, run before any image build.
          isolate: false,
          maxWorkers: availableParallelism(),
          // Quick tests first; the slow image builds after them.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real builds: mmdebstrap, nspawn, mkfs. They share the package cache and the machine's cores.
          // As many files as cores: a third file (tried) filled the waits of builds and boots no better
          // than it slowed every other file (2709 s against 2775 s for the whole suite, on 2 cores).
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
          maxWorkers: availableParallelism(),
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
