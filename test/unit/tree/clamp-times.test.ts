import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clampTreeTimes } from '../../../src/tree/clamp-times.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-clamp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EPOCH = 1_600_000_000;

describe('clampTreeTimes', () => {
  it('moves every later access and modification time to the epoch, symlinks included, and leaves earlier ones', async () => {
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc/new'), 'made during the build');
    writeFileSync(path.join(root, 'etc/packaged'), 'from a package');
    utimesSync(path.join(root, 'etc/packaged'), 1_500_000_000, 1_400_000_000);
    writeFileSync(path.join(root, 'etc/read'), 'old, but read during the build');
    utimesSync(path.join(root, 'etc/read'), 1_700_000_000, 1_400_000_000.5);
    symlinkSync('/nowhere', path.join(root, 'etc/link'));

    const changed = await clampTreeTimes(root, EPOCH);
    expect(changed).toBe(5);
    for (const name of ['', 'etc', 'etc/new', 'etc/link']) {
      const stat = lstatSync(path.join(root, name), { bigint: true });
      expect([stat.atimeNs, stat.mtimeNs], name).toEqual([BigInt(EPOCH) * 1_000_000_000n, BigInt(EPOCH) * 1_000_000_000n]);
    }
    const packaged = lstatSync(path.join(root, 'etc/packaged'), { bigint: true });
    expect([packaged.atimeNs, packaged.mtimeNs]).toEqual([1_500_000_000_000_000_000n, 1_400_000_000_000_000_000n]);
    const read = lstatSync(path.join(root, 'etc/read'), { bigint: true });
    expect([read.atimeNs, read.mtimeNs]).toEqual([BigInt(EPOCH) * 1_000_000_000n, 1_400_000_000_500_000_000n]);
    // Done again, nothing is later: the walk reads each directory before it looks at its times,
    // and that read moves an access time already at the epoch (relatime), which it then sets back.
    await clampTreeTimes(root, EPOCH);
    for (const name of ['', 'etc']) expect(lstatSync(path.join(root, name), { bigint: true }).atimeNs, name).toBe(BigInt(EPOCH) * 1_000_000_000n);
  });
});
