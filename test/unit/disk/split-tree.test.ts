import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withSplitTree } from '../../../src/disk/split-tree.js';
import { UserError } from '../../../src/errors.js';

let base: string;
let root: string;
let scratch: string;

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-split-'));
  root = path.join(base, 'root');
  scratch = path.join(base, 'scratch');
  fs.mkdirSync(scratch);
  fs.mkdirSync(path.join(root, 'home', 'user'), { recursive: true });
  fs.writeFileSync(path.join(root, 'home', 'user', 'file'), 'hello');
  fs.chmodSync(path.join(root, 'home'), 0o751);
  fs.mkdirSync(path.join(root, 'var', 'tmp'), { recursive: true });
  fs.chmodSync(path.join(root, 'var', 'tmp'), 0o1777);
  fs.writeFileSync(path.join(root, 'var', 'tmp', 'x'), 'tmp');
  const past = new Date('2001-02-03T04:05:06Z');
  for (const dir of ['home', 'var/tmp', 'var', '.']) fs.utimesSync(path.join(root, dir), past, past);
});

afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

/** What a tree looks like: every path with its type, mode and mtime, and file contents. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string): void => {
    const full = path.join(dir, relative);
    const stat = fs.lstatSync(full);
    const content = stat.isFile() ? fs.readFileSync(full, 'utf8') : '';
    out.push(`${relative || '.'} ${stat.mode.toString(8)} ${stat.mtimeMs} ${content}`);
    if (stat.isDirectory()) for (const name of fs.readdirSync(full).sort()) walk(path.join(relative, name));
  };
  walk('');
  return out;
}

describe('withSplitTree', () => {
  it('leaves empty mount points like the originals while the contents sit aside, then restores the tree', async () => {
    const before = snapshot(root);
    await withSplitTree(root, ['/home', '/srv', '/var/tmp'], scratch, async (trees) => {
      expect(fs.readdirSync(path.join(root, 'home'))).toEqual([]);
      expect(fs.readdirSync(path.join(root, 'var', 'tmp'))).toEqual([]);
      expect(fs.statSync(path.join(root, 'home')).mode & 0o7777).toBe(0o751);
      expect(fs.statSync(path.join(root, 'var', 'tmp')).mode & 0o7777).toBe(0o1777);
      expect(fs.statSync(path.join(root, 'var')).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
      expect(fs.readFileSync(path.join(trees.get('/home')!, 'user', 'file'), 'utf8')).toBe('hello');
      expect(fs.readdirSync(trees.get('/var/tmp')!)).toEqual(['x']);
      // /srv was not in the tree: an empty partition and a mount point for it.
      expect(fs.readdirSync(trees.get('/srv')!)).toEqual([]);
      expect(fs.statSync(path.join(root, 'srv')).isDirectory()).toBe(true);
    });
    expect(snapshot(root)).toEqual(before);
    expect(fs.readdirSync(scratch)).toEqual([]);
  });

  it('copies aside and back where nothing renames out of the root (an overlay mount: EXDEV), with the same result', async () => {
    // The scratch directory on another file system than the root gives the same EXDEV as an overlay.
    const other = fs.mkdtempSync(path.join('/dev/shm', 'kiln-split-'));
    try {
      expect(fs.statSync(other).dev).not.toBe(fs.statSync(root).dev);
      fs.symlinkSync('user/file', path.join(root, 'home', 'link'));
      fs.utimesSync(path.join(root, 'home'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
      const before = snapshot(root);
      await withSplitTree(root, ['/home', '/srv'], other, async (trees) => {
        expect(fs.readdirSync(path.join(root, 'home'))).toEqual([]);
        expect(fs.statSync(path.join(root, 'home')).mode & 0o7777).toBe(0o751);
        expect(fs.readFileSync(path.join(trees.get('/home')!, 'user', 'file'), 'utf8')).toBe('hello');
        expect(fs.readlinkSync(path.join(trees.get('/home')!, 'link'))).toBe('user/file');
        expect(fs.statSync(path.join(root, 'var')).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
      });
      expect(snapshot(root)).toEqual(before);
      expect(fs.readdirSync(other)).toEqual([]);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('restores the tree when the work fails', async () => {
    const before = snapshot(root);
    await expect(
      withSplitTree(root, ['/home', '/var/tmp'], scratch, async () => {
        throw new Error('mkfs failed');
      }),
    ).rejects.toThrow('mkfs failed');
    expect(snapshot(root)).toEqual(before);
  });

  it('refuses a mount point reached through a symlink, touching nothing', async () => {
    fs.mkdirSync(path.join(base, 'elsewhere'));
    fs.rmSync(path.join(root, 'home'), { recursive: true });
    fs.symlinkSync('../elsewhere', path.join(root, 'home'));
    const before = snapshot(root);
    await expect(withSplitTree(root, ['/home'], scratch, async () => undefined)).rejects.toThrow(UserError);
    await expect(withSplitTree(root, ['/home'], scratch, async () => undefined)).rejects.toThrow('/home in the image is not a directory');
    expect(snapshot(root)).toEqual(before);
  });
});
