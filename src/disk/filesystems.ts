/**
 * File system images made from a tree, without mounting anything: `mkfs.ext4 -d`, `mkfs.btrfs
 * --rootdir`, `mkfs.xfs -p` with a generated prototype, `mksquashfs`, `mkswap` for swap, and for the
 * EFI system partition `mkfs.fat` filled with mtools' `mcopy` (this kernel may have no vfat at all).
 * Each image is a sparse file of the partition's size (squashfs: of its own size).
 */
import { lstatSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Compression } from '../config/types.js';
import { ToolError, UserError } from '../errors.js';
import { debug, warn } from '../log.js';
import { readTreeXattrs } from '../archive/xattrs.js';
import { run } from '../run.js';
import { stampBtrfs } from './btrfs-stamp.js';
import { withCanonicalTree } from './canonical-tree.js';
import { stampExt4Times } from './ext4-times.js';
import { ensureFits } from './fit.js';
import { formatBytes, MiB, type FileSystemType } from './layout.js';
import { measureTree } from './tree-usage.js';
import { bigtimeHex, buildXfsPrototype } from './xfs-protofile.js';

export interface FileSystemJob {
  readonly fs: FileSystemType;
  /** Directory whose contents become the file system; ignored for swap. */
  readonly tree: string;
  /** The image file to create. */
  readonly image: string;
  /** Size in bytes; null for squashfs, which takes what it needs. */
  readonly size: number | null;
  readonly label: string;
  /** Where it will be mounted (ext4 records it as "last mounted on"). */
  readonly mountPoint: string | null;
  /** File-system UUID; random when absent. */
  readonly uuid?: string;
  /**
   * SOURCE_DATE_EPOCH: every time the file system would take from the clock is this, and the tree's
   * times (already clamped to it) are kept but for the change times, which become it too.
   */
  readonly epoch?: number;
  /** How messages name what the partition holds and the setting that sizes it: "the image root", "RootSize". */
  readonly contents: string;
  readonly sizeSetting: string;
  /** squashfs compression (effectiveFsCompression) and the Mksquashfs= command. */
  readonly compression: Compression;
  readonly mksquashfs: readonly string[];
  /** A private directory for prototype files and trial images. */
  readonly scratch: string;
  readonly searchPaths: readonly string[];
  /**
   * ext4 and vfat: make the file system right inside the disk file at this offset (mke2fs -E
   * offset=, mkfs.fat --offset), instead of in `image`, so the disk needs no copy.
   */
  readonly placement?: { readonly file: string; readonly offset: number };
  /**
   * Minimize= (ext4, btrfs): the file system is made at `size` and then shrunk to what its contents
   * need (resize2fs -M, mkfs.btrfs --shrink), and the image file cut to it.
   */
  readonly minimize?: boolean;
}

/**
 * Makes the image; returns its size in bytes. In a reproducible build, ext4 and btrfs are made from a
 * sorted copy of the tree (canonical-tree.ts), since they take the tree's directory order (and btrfs
 * its inode numbers) as they find them.
 */
export async function makeFileSystem(job: FileSystemJob): Promise<number> {
  if (job.epoch !== undefined && (job.fs === 'ext4' || job.fs === 'btrfs')) {
    return withCanonicalTree(job.tree, job.scratch, job.contents, job.searchPaths, (tree) => makeFromTree({ ...job, tree }));
  }
  return makeFromTree(job);
}

async function makeFromTree(job: FileSystemJob): Promise<number> {
  switch (job.fs) {
    case 'squashfs':
      await makeSquashfs(job);
      return (await fs.stat(job.image)).size;
    case 'swap':
      await createSparseFile(job.image, job.size!);
      await run(['mkswap', '-L', job.label, ...(job.uuid ? ['-U', job.uuid] : []), job.image], {
        what: 'Making the swap partition',
        searchPaths: job.searchPaths,
      });
      return job.size!;
    case 'ext4':
      await ensureFits(job, (size, image) =>
        image === job.image && job.placement
          ? makeExt4(job, image).then(() => true)
          : makeFixedSize(size, image, () => makeExt4({ ...job, placement: undefined }, image)),
      );
      return job.minimize ? shrinkExt4(job) : job.size!;
    case 'btrfs':
      await ensureFits(job, (size, image) => makeFixedSize(size, image, () => makeBtrfs(job, image)));
      return job.minimize ? (await fs.stat(job.image)).size : job.size!;
    case 'xfs': {
      const files = await writeXfsPrototype(job);
      await ensureFits(job, (size, image) => makeFixedSize(size, image, () => makeXfs(job, image, files)));
      return job.size!;
    }
    case 'vfat':
      await makeVfat(job);
      return job.size!;
    case 'raw':
      throw new Error(`internal: a raw partition has no file system to make (${job.contents})`);
  }
}

/** resize2fs -M, then the image file cut to the blocks the file system still has. */
async function shrinkExt4(job: FileSystemJob): Promise<number> {
  await run(['resize2fs', '-f', '-M', job.image], { what: `Shrinking the ext4 file system of ${job.contents} (Minimize=)`, searchPaths: job.searchPaths });
  const { stdout } = await run(['dumpe2fs', '-h', job.image], { read: true, what: `Reading the size of ${job.contents}`, searchPaths: job.searchPaths });
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(stdout)?.[1] ?? NaN);
  const size = field('Block count') * field('Block size');
  if (!Number.isSafeInteger(size) || size <= 0) throw new ToolError(['dumpe2fs', '-h', job.image], `dumpe2fs reported no block count for ${job.contents}`, { stderrTail: stdout.slice(-500) });
  await fs.truncate(job.image, size);
  return size;
}

/** A sparse file of `size` bytes, private until it becomes part of an artifact. */
export async function createSparseFile(file: string, size: number): Promise<void> {
  await fs.rm(file, { force: true });
  const handle = await fs.open(file, 'wx', 0o600);
  await handle.truncate(size).finally(() => handle.close());
}

/**
 * Runs `make` on a sparse file of `size` bytes. False when the tree did not fit: mkfs.btrfs grows a
 * too small file instead of failing, so the size is checked too; the others fail (ToolError).
 */
async function makeFixedSize(size: number, image: string, make: () => Promise<void>): Promise<boolean> {
  await createSparseFile(image, size);
  await make();
  return (await fs.stat(image)).size <= size;
}

/** What e2fsprogs needs to take no time from the clock (libext2fs reads it in every tool). */
function ext4Environment(epoch: number | undefined): Record<string, string> {
  return epoch === undefined ? {} : { E2FSPROGS_FAKE_TIME: String(epoch) };
}

/** The root directory's times for debugfs: the tree's, or in a reproducible build clamped, with the epoch as change time. */
export function rootTimes(stat: { atime: Date; mtime: Date; ctime: Date }, epoch: number | undefined): { atime: number; mtime: number; ctime: number } {
  const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);
  const times = { atime: seconds(stat.atime), mtime: seconds(stat.mtime), ctime: seconds(stat.ctime) };
  if (epoch === undefined) return times;
  return { atime: Math.min(times.atime, epoch), mtime: Math.min(times.mtime, epoch), ctime: epoch };
}

async function makeExt4(job: FileSystemJob, image: string): Promise<void> {
  const env = ext4Environment(job.epoch);
  const options = [...(job.uuid ? [`hash_seed=${job.uuid}`] : []), ...(job.placement ? [`offset=${job.placement.offset}`] : [])];
  const extended = options.length > 0 ? ['-E', options.join(',')] : [];
  const uuid = job.uuid ? ['-U', job.uuid] : [];
  // In place, the size is given explicitly (in KiB) since the file is the whole disk.
  const device = job.placement ? [job.placement.file, `${Math.floor(job.size! / 1024)}k`] : [image];
  await run(['mkfs.ext4', '-q', '-F', '-L', job.label, '-M', job.mountPoint ?? '/', ...uuid, ...extended, '-d', job.tree, ...device], {
    env,
    what: `Making the ext4 file system for ${job.contents}`,
    searchPaths: job.searchPaths,
  });
  // mke2fs -d leaves the root directory 0755 root:root with the time of mkfs; a /var/tmp partition needs 1777.
  const stat = lstatSync(job.tree);
  const times = rootTimes(stat, job.epoch);
  const commands = [
    `sif / mode 0${(stat.mode & 0o177777).toString(8)}`,
    `sif / uid ${stat.uid}`,
    `sif / gid ${stat.gid}`,
    `sif / atime @${times.atime}`,
    `sif / mtime @${times.mtime}`,
    `sif / ctime @${times.ctime}`,
  ];
  // e2fsprogs' "file?offset=N" opens a file system inside a larger file.
  const target = job.placement ? `${job.placement.file}?offset=${job.placement.offset}` : image;
  const argv = ['debugfs', '-w', '-f', '-', target];
  const result = await run(argv, { env, input: `${commands.join('\n')}\n`, read: true, what: `Setting the owner and mode of the root of ${job.contents}`, searchPaths: job.searchPaths });
  // debugfs reports failed requests on stderr but exits 0; its banner is the only expected line.
  const problems = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('debugfs '));
  if (problems.length > 0) throw new ToolError(argv, `debugfs could not set up the root directory of ${job.contents}`, { stderrTail: problems.join('\n') });
  if (job.epoch !== undefined) await stampExt4Times(target, job.epoch, `the ext4 file system for ${job.contents}`, job.searchPaths);
}

async function makeBtrfs(job: FileSystemJob, image: string): Promise<void> {
  const uuid = job.uuid ? ['-U', job.uuid] : [];
  // Single data and metadata profiles, as mkosi 14: DUP would only duplicate blocks on one device.
  const shrink = job.minimize ? ['--shrink'] : [];
  await run(['mkfs.btrfs', '-q', '-f', '-L', job.label, '-d', 'single', '-m', 'single', ...uuid, ...shrink, '--rootdir', job.tree, image], {
    what: `Making the btrfs file system for ${job.contents}`,
    searchPaths: job.searchPaths,
  });
  // The UUIDs mkfs.btrfs draws itself derive from the file system's own (itself derived from the seed).
  if (job.epoch !== undefined || job.uuid !== undefined) await stampBtrfs(image, { epoch: job.epoch, seed: job.uuid }, job.searchPaths);
}

interface XfsFiles {
  readonly proto: string;
  readonly fixups: string;
}

async function writeXfsPrototype(job: FileSystemJob): Promise<XfsFiles> {
  // Absolute: mkfs.xfs runs in the tree, because the prototype names the files relative to it.
  const files = { proto: path.resolve(job.scratch, `${job.label}.xfs-proto`), fixups: path.resolve(job.scratch, `${job.label}.xfs-fixups`) };
  const prototype = await buildXfsPrototype(job.tree, await readTreeXattrs(job.tree, { searchPaths: job.searchPaths }), job.epoch);
  await fs.writeFile(files.proto, prototype.protofile);
  await fs.writeFile(files.fixups, prototype.fixups);
  if (prototype.copiedHardLinks > 0) debug(`gpt_xfs: ${prototype.copiedHardLinks} hard links of ${job.contents} become separate copies`);
  if (prototype.lostXattrs.length > 0) {
    const examples = prototype.lostXattrs.slice(0, 3).join(', ');
    warn(`gpt_xfs could not keep the extended attributes of ${prototype.lostXattrs.length} files (too many or too large to write without mounting), e.g. ${examples}`);
  }
  if (prototype.skippedSockets.length > 0) {
    warn(`gpt_xfs leaves out sockets, which XFS prototype files cannot make: ${prototype.skippedSockets.join(', ')}`);
  }
  return files;
}

async function makeXfs(job: FileSystemJob, image: string, files: XfsFiles): Promise<void> {
  const uuid = job.uuid ? `,uuid=${job.uuid}` : '';
  // bigtime and 512-byte inodes are xfsprogs 6.1's defaults; they are named because the fix-ups
  // write time stamps in bigtime encoding and size attributes to fit in the inode.
  await run(['mkfs.xfs', '-q', '-f', '-L', job.label, '-n', 'ftype=1', '-i', 'size=512', '-m', `bigtime=1${uuid}`, '-p', files.proto, path.resolve(image)], {
    cwd: job.tree,
    what: `Making the XFS file system for ${job.contents}`,
    searchPaths: job.searchPaths,
  });
  // `source` reads the script as bytes; on stdin, xfs_db's line editor (libedit) drops every byte
  // above 0x7f, so names that are not ASCII would not be found. Relative, from the scratch
  // directory: xfs_db splits its arguments at spaces, and the workspace's path may hold some.
  const internal = job.epoch === undefined ? [] : await internalInodeFixups(image, job.epoch, job.searchPaths);
  const argv = ['xfs_db', '-x', '-f', '-c', `source ${path.basename(files.fixups)}`, ...internal.flatMap((command) => ['-c', command]), path.resolve(image)];
  const what = `Setting modes, attributes and time stamps in the XFS file system for ${job.contents}`;
  const result = await run(argv, { cwd: path.dirname(files.fixups), stdio: 'pipe', read: true, what, searchPaths: job.searchPaths });
  // xfs_db exits 0 even when an attr_set fails; its messages are the only sign.
  const failures = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => /^failed |not found|no such file|unable to|cannot /i.test(line));
  if (failures.length > 0) throw new ToolError(argv, `${what}: xfs_db failed`, { stderrTail: failures.slice(0, 20).join('\n') });
}

/** mtools refuses images whose size is no multiple of its idea of a track; the check means nothing for files. */
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

/**
 * Sectors per cluster of a FAT32 file system of `size` bytes (Microsoft's table, which mkfs.fat
 * follows for a file of that size). Named explicitly because with --offset mkfs.fat would size the
 * clusters for the whole disk file, and too few clusters make readers (mtools) take FAT32 for FAT16.
 */
export function fatClusterSectors(size: number): number {
  const limits: readonly [number, number][] = [[260 * MiB, 1], [8 * 1024 * MiB, 8], [16 * 1024 * MiB, 16], [32 * 1024 * MiB, 32]];
  return limits.find(([limit]) => size <= limit)?.[1] ?? 64;
}

/**
 * FAT32 made with mkfs.fat and filled with mcopy, so nothing is mounted. The volume ID comes from
 * the UUID when there is one (reproducible builds). Files keep their modification times (-m).
 */
async function makeVfat(job: FileSystemJob): Promise<void> {
  const kib = Math.floor(job.size! / 1024);
  const options = [...(job.uuid ? ['-i', job.uuid.replaceAll('-', '').slice(0, 8)] : []), '-s', String(fatClusterSectors(job.size!))];
  let target = job.image;
  if (job.placement) {
    target = job.placement.file;
    await run(['mkfs.fat', '-F', '32', '-n', job.label, ...options, `--offset=${job.placement.offset / 512}`, target, String(kib)], {
      what: `Making the FAT file system for ${job.contents}`,
      searchPaths: job.searchPaths,
    });
  } else {
    await createSparseFile(job.image, job.size!);
    await run(['mkfs.fat', '-F', '32', '-n', job.label, ...options, job.image, String(kib)], {
      what: `Making the FAT file system for ${job.contents}`,
      searchPaths: job.searchPaths,
    });
  }
  const entries = (await fs.readdir(job.tree)).sort().map((name) => path.join(job.tree, name));
  if (entries.length === 0) return;
  const drive = job.placement ? `${target}@@${job.placement.offset}` : target;
  try {
    await run(['mcopy', '-s', '-m', '-Q', '-i', drive, ...entries, '::'], {
      env: MTOOLS_ENV,
      what: `Copying ${job.contents} into its FAT file system`,
      searchPaths: job.searchPaths,
    });
  } catch (error) {
    if (!(error instanceof ToolError) || !/disk full/i.test(`${error.message}\n${error.stderrTail}`)) throw error;
    const needed = (await measureTree(job.tree)).bytes;
    throw new UserError(`${job.contents} (${formatBytes(needed)}) does not fit in ${job.sizeSetting}=${formatBytes(job.size!)}`, {
      hint: `set ${job.sizeSetting}=${Math.ceil((needed * 1.1) / MiB) + 8}M or more`,
    });
  }
}

/**
 * The realtime bitmap and summary inodes, which mkfs.xfs makes in every file system with the clock's
 * time: xfs_db commands that give them the epoch instead.
 */
async function internalInodeFixups(image: string, epoch: number, searchPaths: readonly string[]): Promise<string[]> {
  const { stdout } = await run(['xfs_db', '-r', '-c', 'sb 0', '-c', 'print rbmino rsumino', path.resolve(image)], {
    stdio: 'pipe',
    read: true,
    what: 'Reading the XFS superblock',
    searchPaths,
  });
  const inodes = [...stdout.matchAll(/^(?:rbmino|rsumino) = (\d+)$/gm)].map((match) => match[1]!);
  if (inodes.length !== 2) throw new Error(`internal: xfs_db printed no realtime inodes: ${stdout}`);
  const time = bigtimeHex(BigInt(epoch) * 1_000_000_000n);
  const stamp = ['core.atime', 'core.mtime', 'core.ctime', 'v3.crtime'].map((field) => `write ${field} ${time}`);
  return inodes.flatMap((inode) => [`inode ${inode}`, ...stamp]);
}

/** mksquashfs's -comp names for mkosi's compression words. */
const SQUASHFS_COMPRESSORS: Readonly<Record<string, string>> = { zlib: 'gzip', gz: 'gzip', lzo: 'lzo', lz4: 'lz4', xz: 'xz', zstd: 'zstd' };

async function makeSquashfs(job: FileSystemJob): Promise<void> {
  // As mkosi 14: Mksquashfs= replaces the program, and its arguments (if any) replace -noappend.
  const [program = 'mksquashfs', ...custom] = job.mksquashfs;
  const defaultTool = job.mksquashfs.length === 0;
  const args = custom.length > 0 ? custom : ['-noappend'];
  let compression: string[] = [];
  if (job.compression === false) compression = ['-noI', '-noD', '-noF', '-noX'];
  else if (typeof job.compression === 'string') compression = ['-comp', SQUASHFS_COMPRESSORS[job.compression] ?? job.compression];
  await fs.rm(job.image, { force: true });
  await run([program, job.tree, job.image, ...args, ...compression, ...(defaultTool ? ['-quiet', '-no-progress'] : [])], {
    // squashfs-tools 4.5 take it for the file system's time and clamp every file's time to it.
    env: job.epoch === undefined ? {} : { SOURCE_DATE_EPOCH: String(job.epoch) },
    what: `Making the squashfs file system for ${job.contents}`,
    searchPaths: job.searchPaths,
  });
}
