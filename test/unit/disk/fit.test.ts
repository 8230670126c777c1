import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureFits, estimateSize, isOutOfSpace } from '../../../src/disk/fit.js';
import type { FileSystemJob } from '../../../src/disk/filesystems.js';
import { MiB } from '../../../src/disk/layout.js';
import { ToolError, UserError } from '../../../src/errors.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fit-'));
  fs.mkdirSync(path.join(dir, 'tree'));
  fs.writeFileSync(path.join(dir, 'tree', 'data'), Buffer.alloc(2 * MiB, 1));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function job(size: number, fsType: FileSystemJob['fs'] = 'ext4'): FileSystemJob {
  return {
    fs: fsType,
    tree: path.join(dir, 'tree'),
    image: path.join(dir, 'root.img'),
    size,
    label: 'root',
    mountPoint: '/',
    contents: 'the image root',
    sizeSetting: 'RootSize',
    compression: false,
    mksquashfs: [],
    scratch: dir,
    searchPaths: [],
  };
}

const noSpace = new ToolError(['mkfs.ext4'], 'Making the ext4 file system: mkfs.ext4 -q -F … exited with code 1', {
  stderrTail: '__populate_fs: Could not allocate block in ext2 filesystem while writing file "x"',
});

describe('isOutOfSpace', () => {
  it('recognises how mke2fs and mkfs.xfs report a full file system, and nothing else', () => {
    expect(isOutOfSpace(noSpace)).toBe(true);
    expect(isOutOfSpace(new ToolError(['mkfs.xfs'], 'x', { stderrTail: 'mkfs.xfs: cannot reserve space [28 - No space left on device]' }))).toBe(true);
    expect(isOutOfSpace(new ToolError(['mkfs.xfs'], 'x', { stderrTail: 'mkfs.xfs: cannot open ./etc/shadow: Permission denied' }))).toBe(false);
    expect(isOutOfSpace(new Error('No space left on device'))).toBe(false);
  });
});

describe('ensureFits', () => {
  it('makes the file system at the configured size when it fits', async () => {
    const sizes: number[] = [];
    await ensureFits(job(100 * MiB), async (size) => {
      sizes.push(size);
      return true;
    });
    expect(sizes).toEqual([100 * MiB]);
  });

  it('names the first larger size that works, tried in a trial image, not the output', async () => {
    const tried: [number, string][] = [];
    const attempt = async (size: number, image: string): Promise<boolean> => {
      tried.push([size, path.basename(image)]);
      if (size < 200 * MiB) throw noSpace;
      return true;
    };
    const failure = ensureFits(job(100 * MiB), attempt);
    await expect(failure).rejects.toThrow(UserError);
    await expect(failure).rejects.toThrow(/^the image root does not fit in RootSize=100 MiB: its 2(\.\d)? MiB of files need about \d+ MiB as ext4$/);
    const error = (await failure.catch((e: unknown) => e)) as UserError;
    const named = Number(/RootSize=(\d+)M or more/.exec(error.hint!)![1]) * MiB;
    expect(named).toBeGreaterThanOrEqual(200 * MiB);
    expect(tried[0]).toEqual([100 * MiB, 'root.img']);
    expect(tried.slice(1).every(([, image]) => image === 'root.trial-image')).toBe(true);
    expect(tried.at(-1)![0]).toBe(named);
    expect(fs.existsSync(path.join(dir, 'root.trial-image'))).toBe(false);
  });

  it('does not try a size smaller than the files at all', async () => {
    const tried: number[] = [];
    await expect(
      ensureFits(job(MiB), async (size) => {
        tried.push(size);
        return size >= 80 * MiB;
      }),
    ).rejects.toThrow('does not fit in RootSize=1 MiB');
    expect(tried[0]).toBeGreaterThan(MiB);
  });

  it('passes on a failure that is not about space without trying other sizes', async () => {
    const broken = new ToolError(['mkfs.ext4'], 'Making the ext4 file system: mkfs.ext4 exited with code 1', { stderrTail: 'bad superblock option' });
    let attempts = 0;
    await expect(
      ensureFits(job(100 * MiB), async () => {
        attempts++;
        throw broken;
      }),
    ).rejects.toBe(broken);
    expect(attempts).toBe(1);
  });

  it('starts an XFS search at the 300 MiB xfsprogs needs', () => {
    expect(estimateSize({ bytes: MiB, inodes: 10 }, 'xfs')).toBe(300 * MiB);
    expect(estimateSize({ bytes: MiB, inodes: 10 }, 'ext4')).toBeLessThan(300 * MiB);
  });
});
