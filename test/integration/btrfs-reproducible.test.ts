/**
 * Reproducible btrfs (issue 15), on a small synthetic tree rather than a whole image: the same tree
 * made twice — in opposite orders, so its inode numbers and directory order differ, and in two
 * different seconds, so its change times differ — through kiln's own path for a reproducible build
 * (the sorted copy, mkfs.btrfs --rootdir, btrfs-stamp.ts) must give the same bytes, which
 * `btrfs check` accepts. A difference is printed as block ranges and as the lines of
 * `btrfs inspect-internal dump-tree` that differ. reproducible.test.ts builds gpt_btrfs images too;
 * this is the quick proof that names the cause when they differ.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFileSystem } from '../../src/disk/filesystems.js';
import { blockDifferences, describeDifference } from './helpers/compare.js';
import { whyNotRoot } from './helpers/kiln.js';

const EPOCH = 1_700_000_000;
const SEED = '5b0f7a7e-2c1d-4e8f-9a6b-3c2d1e0f9a8b';
/** Older than the epoch: the trees a build hands mkfs are clamped already. */
const MTIME = EPOCH - 86_400;

const skip = whyNotRoot(['mkfs.btrfs', 'btrfs', 'tar', 'mount', 'setfattr', 'setcap', 'mknod', 'mkfifo']);

type Entry =
  | { kind: 'dir'; name: string }
  | { kind: 'file'; name: string; bytes: number; xattr?: string; capability?: boolean }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'hardlink'; name: string; target: string }
  | { kind: 'fifo' | 'device'; name: string };

/**
 * Enough entries for the file-system tree to span many leaves (where btrfs-progs leaves stale bytes),
 * with names of many lengths, files empty, inline, of a few blocks and of more than one 1 MiB extent,
 * extended attributes, a capability, links of both kinds, a FIFO and a device node.
 */
function entries(): Entry[] {
  const list: Entry[] = [];
  for (let d = 0; d < 10; d++) {
    const dir = `d${d}-${'n'.repeat(d * 3)}`;
    list.push({ kind: 'dir', name: dir }, { kind: 'dir', name: `${dir}/sub` });
    for (let f = 0; f < 150; f++) {
      const name = `${dir}/${f % 2 ? 'sub/' : ''}file-${f}-${'x'.repeat(f % 37)}`;
      const bytes = f % 7 === 0 ? 0 : f % 31 === 0 ? 20_000 + f : 40 + f * 3;
      list.push({ kind: 'file', name, bytes, ...(f % 11 === 0 ? { xattr: `user.kiln${f}` } : {}) });
      if (f % 13 === 0) list.push({ kind: 'symlink', name: `${name}.link`, target: path.basename(name) });
      if (f % 17 === 1) list.push({ kind: 'hardlink', name: `${name}.hard`, target: name });
    }
  }
  list.push(
    { kind: 'file', name: 'big', bytes: 1536 * 1024 + 5 },
    { kind: 'file', name: 'ping', bytes: 4096, capability: true },
    { kind: 'fifo', name: 'fifo' },
    { kind: 'device', name: 'null' },
  );
  return list;
}

function content(name: string, bytes: number): Buffer {
  const pattern = Buffer.from(`${name}\n`);
  return Buffer.alloc(bytes, pattern);
}

/** Makes the tree at `dir`, its entries in `order`; decoy files in between give other inode numbers. */
function makeTree(dir: string, order: 'forward' | 'reverse'): void {
  const list = entries();
  // Directories first (a file needs its parent), in the given order; then the rest.
  const dirs = list.filter((entry) => entry.kind === 'dir');
  const rest = list.filter((entry) => entry.kind !== 'dir' && entry.kind !== 'hardlink');
  const links = list.filter((entry) => entry.kind === 'hardlink');
  const sequence = order === 'forward' ? [...dirs, ...rest, ...links] : [...dirs, ...rest.reverse(), ...links.reverse()];
  fs.mkdirSync(dir);
  for (const [index, entry] of sequence.entries()) {
    const at = path.join(dir, entry.name);
    if (order === 'reverse' && index % 5 === 0) fs.writeFileSync(path.join(dir, 'decoy'), 'x');
    if (entry.kind === 'dir') fs.mkdirSync(at);
    else if (entry.kind === 'file') {
      fs.writeFileSync(at, content(entry.name, entry.bytes), { mode: 0o644 });
      if (entry.xattr) execFileSync('setfattr', ['-n', entry.xattr, '-v', entry.name, at]);
      if (entry.capability) execFileSync('setcap', ['cap_net_raw+ep', at]);
    } else if (entry.kind === 'symlink') fs.symlinkSync(entry.target, at);
    else if (entry.kind === 'hardlink') fs.linkSync(path.join(dir, entry.target), at);
    else if (entry.kind === 'fifo') execFileSync('mkfifo', ['-m', '0600', at]);
    else execFileSync('mknod', ['-m', '0666', at, 'c', '1', '3']);
  }
  fs.rmSync(path.join(dir, 'decoy'), { force: true });
  execFileSync('find', [dir, '-exec', 'touch', '-h', '-d', `@${MTIME}`, '{}', '+']);
}

/** Waits for the clock's next second, so that the two copies kiln makes get different change times. */
async function nextSecond(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === now) await new Promise((resolve) => setTimeout(resolve, 50));
}

function makeBtrfs(tree: string, image: string, scratch: string): Promise<number> {
  return makeFileSystem({
    fs: 'btrfs',
    tree,
    image,
    size: 256 * 1024 ** 2,
    label: 'root',
    mountPoint: '/',
    uuid: SEED,
    epoch: EPOCH,
    contents: 'the synthetic tree',
    sizeSetting: 'RootSize',
    compression: false,
    mksquashfs: [],
    scratch,
    searchPaths: [],
  });
}

function dumpTree(image: string): string[] {
  return execFileSync('btrfs', ['inspect-internal', 'dump-tree', image], { encoding: 'utf8', maxBuffer: 256 * 1024 ** 2 }).split('\n');
}

describe.skipIf(skip)('reproducible btrfs: one tree made in two orders and two seconds, the same file system', () => {
  let parent: string;
  const image = (name: string) => path.join(parent, `${name}.img`);

  beforeAll(async () => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-btrfs-repro-'));
    for (const [name, order] of [['first', 'forward'], ['second', 'reverse']] as const) {
      makeTree(path.join(parent, name), order);
      const scratch = fs.mkdtempSync(path.join(parent, 'scratch-'));
      await nextSecond();
      await makeBtrfs(path.join(parent, name), image(name), scratch);
    }
  }, 300_000);
  afterAll(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  });

  it('gives the same bytes, or names the blocks and items that differ', () => {
    const blocks = blockDifferences(image('first'), image('second'), [{ name: 'btrfs', start: 0, end: fs.statSync(image('first')).size }]);
    const why = blocks.length === 0 ? '' : `${blocks.join('\n')}\n${describeDifference(dumpTree(image('first')), dumpTree(image('second')), 30)}`;
    expect(blocks, `the two file systems differ:\n${why}`).toEqual([]);
  });

  it('passes btrfs check, with the seeded UUIDs, the epoch and the transaction in every place mkfs took them from chance or the clock', () => {
    const check = spawnSync('btrfs', ['check', '--readonly', image('first')], { encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    const dump = dumpTree(image('first'));
    expect(dump.filter((line) => /^fs uuid /.test(line) && !line.includes(SEED))).toEqual([]);
    // Access, change and creation times (of inodes and roots) are the epoch or unset; modification times the tree's, or the epoch.
    const times = dump.filter((line) => /^\s+[acmo]time \d+\.\d+ /.test(line)).map((line) => line.trim().split(' ').slice(0, 2).join(' '));
    const allowed = (line: string): boolean => line.endsWith(` ${EPOCH}.0`) || (line.startsWith('mtime') ? line === `mtime ${MTIME}.0` : line.endsWith(' 0.0'));
    expect(times.length).toBeGreaterThan(1000);
    expect([...new Set(times.filter((line) => !allowed(line)))]).toEqual([]);
    // Directory entries and extended attributes carry the transaction that wrote them, not stale bytes.
    const generation = /^fs tree key .*\n.*generation (\d+)/m.exec(dump.join('\n'))?.[1];
    const transids = new Set(dump.filter((line) => /^\s+transid \d+ data_len /.test(line)).map((line) => line.trim().split(' ')[1]));
    expect(transids).toEqual(new Set([generation]));
  });
});
