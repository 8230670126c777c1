/**
 * Reproducible builds (issue 15): one image definition, checked out twice — two directories whose
 * files have different mtimes, as two checkouts would — built in each with the same
 * SOURCE_DATE_EPOCH and the same packages, must give byte-identical artifacts in every format.
 *
 * Each directory has its own cache, so each bootstraps the image itself (a non-determinism of the
 * bootstrap cannot hide behind a shared root), and then builds every format from its cached root
 * (Incremental=yes). Debian packages are linked in from the shared test cache, so nothing is
 * downloaded twice. The Bootstrapper=debootstrap pair is reproducible-debootstrap.test.ts, so that it
 * runs beside this file; btrfs-reproducible.test.ts shows the btrfs part on a small tree.
 * A difference is printed as the paths (trees, archives) or block ranges (disks) that differ.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDifference, tarListing, treeDigestLines } from './helpers/compare.js';
import { BUILD_RECORD, build as buildIn, checkout, EPOCH, expectSameManifest, expectSameSums, sums } from './helpers/reproducible.js';
import { partitionTable, extractPartition } from './disk-helpers.js';
import { whyNotRoot } from './helpers/kiln.js';

const FORMATS = ['tar', 'directory', 'gpt_ext4', 'gpt_btrfs', 'gpt_xfs', 'gpt_squashfs', 'lxc', 'incus'] as const;
type Format = (typeof FORMATS)[number];

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'mkfs.ext4', 'mkfs.btrfs', 'mkfs.xfs', 'mksquashfs', 'sfdisk', 'getfattr', 'xz', 'btrfs', 'e2fsck', 'xfs_repair']);

const DEFINITION = `[Distribution]
Distribution=debian
Bootstrapper=mmdebstrap

[Output]
ImageId=repro
Incremental=yes

[Content]
BasePackages=no

[Partitions]
RootSize=600M

[Validation]
Checksum=yes
`;

/**
 * Format=tar and Format=incus uncompressed: their archives come from the one tar writer Format=lxc
 * uses too, and lxc is always xz (LXC unpacks it with tar -J), so it alone shows that the compressed
 * stream is reproducible; xz over the same root in two more formats (in each checkout, and for the
 * later epoch) would prove nothing more.
 */
function build(dir: string, format: Format, extra: readonly string[] = [], epoch = EPOCH): Promise<unknown> {
  return buildIn(dir, [`--format=${format}`, ...compression(format), ...extra], epoch);
}

/**
 * squashfs with lz4 rather than its default gzip: what kiln makes reproducible is the tree it hands
 * mksquashfs and the time it gives it (SOURCE_DATE_EPOCH), whatever the compressor; mksquashfs orders
 * its compressed blocks the same way with each, and gzip takes it ~20 s per build here, lz4 ~2 s.
 */
function compression(format: Format): string[] {
  if (format === 'tar' || format === 'incus') return ['--compress-output=no'];
  if (format === 'gpt_squashfs') return ['--compress-fs=lz4'];
  return [];
}

/** The image of a build: the directory for Format=directory, else the file its manifest is named after. */
function imageFile(dir: string, format: Format): string {
  const names: Record<Format, string> = {
    tar: 'repro.tar',
    directory: 'repro',
    gpt_ext4: 'repro.raw',
    gpt_btrfs: 'repro.raw',
    gpt_xfs: 'repro.raw',
    gpt_squashfs: 'repro.raw',
    lxc: 'repro.rootfs.tar.xz',
    incus: 'repro.incus.tar',
  };
  return path.join(dir, names[format]);
}

/** The roots a checkout's incremental cache holds: each one's tree and its packages. */
function cachedRoots(dir: string): { root: string; packages: string[] }[] {
  const roots = path.join(dir, 'cache', 'debian~bookworm', 'roots');
  return fs
    .readdirSync(roots)
    .filter((name) => /^[0-9a-f]{16}$/.test(name))
    .map((name) => ({
      root: path.join(roots, name, 'root'),
      packages: (JSON.parse(fs.readFileSync(path.join(roots, name, 'inputs.json'), 'utf8')) as { packages: string[] }).packages,
    }));
}

/** The disk GUID and partition UUIDs, then the root file system's UUID. */
function diskUuids(image: string, scratch: string): string[] {
  const table = partitionTable(image);
  const part = extractPartition(image, table.partitions.at(-1)!, path.join(scratch, 'uuid.part'));
  try {
    const header = execFileSync('dumpe2fs', ['-h', part], { encoding: 'utf8', stdio: 'pipe' });
    return [table.id, ...table.partitions.map((partition) => partition.uuid), /^Filesystem UUID:\s+(\S+)$/m.exec(header)![1]!];
  } finally {
    fs.rmSync(part, { force: true });
  }
}

/** The file system of a disk's root partition passes its own checker (the reproducible build corrects btrfs, ext4 and XFS in place). */
function checkFileSystem(image: string, format: Format, scratch: string): void {
  const root = partitionTable(image).partitions.at(-1)!;
  const partition = extractPartition(image, root, path.join(scratch, `${format}.part`));
  try {
    if (format === 'gpt_ext4') execFileSync('e2fsck', ['-f', '-n', partition], { stdio: 'pipe' });
    if (format === 'gpt_btrfs') execFileSync('btrfs', ['check', '--readonly', partition], { stdio: 'pipe' });
    if (format === 'gpt_xfs') execFileSync('xfs_repair', ['-n', '-f', partition], { stdio: 'pipe' });
  } finally {
    fs.rmSync(partition, { force: true });
  }
}

describe.skipIf(skip)('reproducible builds: two checkouts, the same SOURCE_DATE_EPOCH, the same bytes', () => {
  let parent: string;
  let first: string;
  let second: string;
  /** The UUIDs of the first checkout's gpt_ext4 image. */
  let reference: string[] = [];

  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repro-'));
    first = checkout(parent, 'first', DEFINITION, new Date());
    second = checkout(parent, 'second', DEFINITION, new Date(Date.now() - 86_400_000));
  });
  afterAll(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  });

  const isByteIdentical = (format: Format): void => {
    it(`Format=${format} is byte-identical`, async () => {
      await build(first, format);
      await build(second, format);
      const a = imageFile(first, format);
      if (format === 'directory') {
        const [left, right] = [treeDigestLines(a), treeDigestLines(imageFile(second, format))];
        expect(left.join('\n') === right.join('\n'), `the trees differ: ${describeDifference(left, right)}`).toBe(true);
        // The scripts saw the epoch; nothing in the tree is later than it.
        expect(fs.readFileSync(path.join(a, 'etc/postinst-epoch'), 'utf8')).toBe(`${EPOCH}\n`);
        expect(fs.readFileSync(path.join(a, 'etc/finalize-epoch'), 'utf8')).toBe(`${EPOCH}\n`);
        // Entry lines carry an mtime; getfattr's blocks of extended attributes do not.
        const later = left.filter((line) => BigInt(/ mtime=(\d+)/.exec(line)?.[1] ?? 0) > BigInt(EPOCH) * 1_000_000_000n);
        expect(later).toEqual([]);
        expectSameManifest(first, second, path.basename(imageFile(first, format)));
        return;
      }
      await expectSameSums(first, second);
      expectSameManifest(first, second, path.basename(imageFile(first, format)));
      if (format === 'tar') {
        const members = (await tarListing(a)).map((line) => line.split(' ')[0]!);
        const left = members.filter((name) => BUILD_RECORD.test(name));
        expect(left, 'logs and caches of the build are removed').toEqual([]);
      }
      if (format.startsWith('gpt_') && format !== 'gpt_squashfs') checkFileSystem(a, format, parent);
      if (format === 'gpt_ext4') reference = diskUuids(a, parent);
    }, 1_800_000);
  };

  // Format=directory second: it copies the cached root (cp -a), which moves the access times of its
  // files; the overlay builds after it must neither copy the whole root up to clamp them again
  // (~15 s a build) nor leave them moved (checked below).
  for (const format of FORMATS) isByteIdentical(format);

  it('an image of another Output= or ImageId= gets other disk, partition and file-system UUIDs', async () => {
    expect(reference, 'the gpt_ext4 build above ran').toHaveLength(3);
    for (const [option, output] of [['--output=other.raw', 'other.raw'], ['--image-id=other', 'other.raw']] as const) {
      await build(first, 'gpt_ext4', [option]);
      const uuids = diskUuids(path.join(first, output), parent);
      for (const [index, uuid] of uuids.entries()) expect(uuid, `${option}: ${uuids.join(' ')} against ${reference.join(' ')}`).not.toBe(reference[index]);
      fs.rmSync(path.join(first, output));
    }
    // Format=directory copied the cached root, which moved its access times; the builds after it
    // (through an overlay) set them back to the epoch in the cached root itself, so that clamping them
    // in the overlay did not copy every file up.
    const cached = cachedRoots(first);
    expect(cached).toHaveLength(1);
    const later = execFileSync('find', [cached[0]!.root, '-newerat', `@${EPOCH}`], { encoding: 'utf8' });
    expect(later.split('\n').filter(Boolean).slice(0, 5)).toEqual([]);
  }, 1_800_000);

  // The comparison above can fail: a later epoch gives another archive. Besides times, only what
  // records the epoch itself differs: the scripts' files and /etc/shadow's day of the last change.
  it('another SOURCE_DATE_EPOCH gives another tar archive, which differs in its times and where the epoch is written', async () => {
    const later = EPOCH + 86_400;
    const reference = execFileSync('sha256sum', [imageFile(first, 'tar')], { encoding: 'utf8' }).split(' ')[0];
    await build(first, 'tar', ['--output=later.tar'], later);
    const other = sums(first).get('later.tar');
    expect(other).toMatch(/^[0-9a-f]{64}$/);
    expect(other).not.toBe(reference);
    const [left, right] = [await tarListing(imageFile(first, 'tar')), await tarListing(path.join(first, 'later.tar'))];
    const timeless = (lines: string[]): string[] => lines.map((line) => line.replace(/ mtime=\d+/, '').replace(/mtime=[0-9a-f]+,?/, ''));
    expect(describeDifference(left, right)).toMatch(/mtime=/);
    const epochWritten = /^\.\/etc\/(postinst-epoch|finalize-epoch|shadow|shadow-) /;
    const [a, b] = [timeless(left).filter((line) => !epochWritten.test(line)), timeless(right).filter((line) => !epochWritten.test(line))];
    expect(a.join('\n') === b.join('\n'), `besides times: ${describeDifference(a, b)}`).toBe(true);
    const newest = Math.max(...right.map((line) => Number(/ mtime=(\d+)/.exec(line)![1]) / 1000));
    expect(newest).toBe(later);
  }, 1_800_000);

  // A root extended with a package is stored as a bootstrapped one is: with its times clamped, so that
  // the builds from it clamp nothing through their overlay (which would copy every file up).
  it('a cached root extended with a package is stored with no time later than the epoch', async () => {
    await build(first, 'tar');
    await build(first, 'tar', ['--package=less', '--output=extended.tar']);
    const extended = cachedRoots(first).find((entry) => entry.packages.includes('less'));
    expect(extended, 'the build with less stored a root of its own').toBeDefined();
    const root = extended!.root;
    expect(fs.existsSync(path.join(root, 'usr/bin/less'))).toBe(true);
    const later = execFileSync('find', [root, '(', '-newermt', `@${EPOCH}`, '-o', '-newerat', `@${EPOCH}`, ')', '-print'], { encoding: 'utf8' });
    expect(later.split('\n').filter(Boolean).slice(0, 5)).toEqual([]);
  }, 1_800_000);
});
