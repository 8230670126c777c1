/**
 * Format=subvolume: the output is a btrfs subvolume (with mkosi 14's nested ones) holding the tree,
 * read-only when asked, replaceable by the next build, and refused up front when the output
 * directory is not on btrfs. The output directory is a loop-mounted btrfs made by the test; kiln
 * itself runs with every loop device masked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTree, debianFixture, ensureDist, run, sh, tempDir, treeListing, writeWithoutLoopDevices } from './disk-helpers.js';
import { whyNotRoot } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'unshare', 'mkfs.btrfs', 'btrfs', 'systemd-nspawn', 'getfattr']);

let base: string;
let mnt: string;
let root: string;

const CONFIG = '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=subvolume\n';

function subvolumes(): string[] {
  return sh(['btrfs', 'subvolume', 'list', mnt])
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/^.* path /, ''))
    .sort();
}

function xattrs(dir: string): string {
  // Relative names, so that two trees compare; one block per file, sorted, since getfattr -R walks
  // each directory in the order its file system lists it.
  const dump = sh(['getfattr', '-R', '-h', '-d', '-m', '-', '.'], { cwd: dir });
  return dump.split('\n\n').map((block) => block.trim()).filter(Boolean).sort().join('\n\n');
}

beforeAll(() => {
  if (skip) return;
  ensureDist();
  base = tempDir('kiln-subvolume-');
  const image = path.join(base, 'btrfs.img');
  sh(['truncate', '-s', '2G', image]);
  sh(['mkfs.btrfs', '-q', image]);
  mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  sh(['mount', '-o', 'loop', image, mnt]);
  // The tree sits on the same btrfs, as kiln's workspace does (it lives in the output directory).
  root = path.join(mnt, 'tree');
  copyTree(debianFixture(), root);
  fs.mkdirSync(path.join(root, 'home/user'), { recursive: true });
  fs.writeFileSync(path.join(root, 'home/user/file'), 'hello\n');
  sh(['setfattr', '-n', 'user.kiln', '-v', 'kept', path.join(root, 'etc/hostname')]);
}, 15 * 60_000);

afterAll(() => {
  if (!base) return;
  if (mnt) run(['umount', mnt]);
  fs.rmSync(base, { recursive: true, force: true });
});

describe.skipIf(skip)('Format=subvolume', () => {
  it('makes a read-only subvolume holding the tree, with /home, /srv, /var and /var/tmp as subvolumes', () => {
    const dir = path.join(mnt, 'out');
    const result = writeWithoutLoopDevices(dir, `${CONFIG}ReadOnly=yes\n`, root);
    expect(result.status, result.error).toBe(0);
    const image = path.join(dir, 'image');
    console.log(`subvolume: written in ${result.ms} ms`);
    expect(sh(['btrfs', 'subvolume', 'show', image])).toContain('Flags: \t\t\treadonly');
    expect(sh(['btrfs', 'property', 'get', '-ts', image, 'ro'])).toBe('ro=true\n');
    expect(subvolumes()).toEqual(['out/image', 'out/image/home', 'out/image/srv', 'out/image/var', 'out/image/var/tmp']);
    expect(treeListing(image)).toEqual(treeListing(root));
    expect(xattrs(image)).toBe(xattrs(root));
    const perl = ['usr/bin/perl', 'usr/bin/perl5.36.0'].map((f) => fs.statSync(path.join(image, f)).ino);
    expect(perl[0]).toBe(perl[1]);
    expect(fs.writeFileSync.bind(fs, path.join(image, 'etc/new'), 'x')).toThrow(/EROFS/);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.kiln-build-'))).toEqual([]);
  });

  it('replaces a read-only subvolume from an earlier build, leaving no subvolume behind', () => {
    const dir = path.join(mnt, 'out');
    fs.writeFileSync(path.join(root, 'etc/second-build'), '2\n');
    try {
      const result = writeWithoutLoopDevices(dir, CONFIG, root);
      expect(result.status, result.error).toBe(0);
    } finally {
      fs.rmSync(path.join(root, 'etc/second-build'));
    }
    const image = path.join(dir, 'image');
    expect(fs.readFileSync(path.join(image, 'etc/second-build'), 'utf8')).toBe('2\n');
    expect(sh(['btrfs', 'property', 'get', '-ts', image, 'ro'])).toBe('ro=false\n');
    expect(subvolumes()).toEqual(['out/image', 'out/image/home', 'out/image/srv', 'out/image/var', 'out/image/var/tmp']);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.kiln-build-'))).toEqual([]);
  });

  it('is a root systemd-nspawn runs', () => {
    expect(nspawn(path.join(mnt, 'out/image'), ['cat', '/usr/lib/os-release'])).toMatch(/^ID=debian$/m);
  });

  it('is refused before any work when the output directory is not on btrfs', () => {
    const dir = tempDir('kiln-subvolume-ext4-');
    try {
      const result = writeWithoutLoopDevices(dir, CONFIG, root);
      expect(result.status).toBe(1);
      expect(result.error).toMatch(/^Format=subvolume needs btrfs for the output directory, but \/.* is on (ext4|xfs|tmpfs|overlayfs)$/);
      expect(result.hint).toBe('set OutputDirectory= to a directory on btrfs, or use Format=directory');
      expect(fs.readdirSync(dir)).toEqual(['mkosi.default']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
