import { describe, expect, it } from 'vitest';
import { canonicalCopyPlan } from '../../../src/disk/canonical-tree.js';

const meminfo = (availableKiB: number) => `MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   ${availableKiB} kB\n`;

describe('canonicalCopyPlan', () => {
  it('sizes the tmpfs a tenth above the tree, in whole pages', () => {
    const plan = canonicalCopyPlan(300 * 1024 ** 2, meminfo(8 * 1024 ** 2));
    expect(plan).toEqual({ bytes: Math.ceil((300 * 1024 ** 2 * 1.1 + 16 * 1024 ** 2) / 4096) * 4096 });
  });

  it('keeps a GiB of memory for the rest of the machine, and says why when it cannot', () => {
    const plan = canonicalCopyPlan(2 * 1024 ** 3, meminfo(2 * 1024 ** 2));
    expect(plan).toEqual({ why: expect.stringMatching(/^copying its 2 GiB needs 3\.2 GiB of available memory$/) });
  });
});
