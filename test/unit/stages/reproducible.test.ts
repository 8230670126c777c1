import { describe, expect, it } from 'vitest';
import { clampInstallDate } from '../../../src/stages/reproducible.js';

describe('clampInstallDate', () => {
  const desc = (date: number) => `%NAME%\nbash\n\n%VERSION%\n5.2-1\n\n%INSTALLDATE%\n${date}\n\n%SIZE%\n9000\n`;

  it('moves a later install date in pacman\'s local database to the epoch and keeps the rest', () => {
    expect(clampInstallDate(desc(1_800_000_000), 1_700_000_000)).toBe(desc(1_700_000_000));
    expect(clampInstallDate(desc(1_600_000_000), 1_700_000_000)).toBe(desc(1_600_000_000));
  });
});
