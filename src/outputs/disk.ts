/**
 * The disk formats: gpt_ext4, gpt_xfs, gpt_btrfs and gpt_squashfs (a GPT disk image with
 * Discoverable Partitions types that systemd-dissect, systemd-nspawn -i and machinectl import-raw
 * accept) and plain_squashfs (the bare squashfs file system). Every file system is made from the tree
 * and the disk is assembled in a plain sparse file: no loop device, no mount, no root-only ioctl.
 * QCow2= converts with qemu-img; CompressOutput= compresses the whole file in an external compressor.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import PQueue from 'p-queue';
import { pipeline } from 'node:stream/promises';
import { COMPRESSOR_TOOLS, compressorCommand } from '../archive/compressor.js';
import { effectiveFsCompression, outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { Artifact, BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { step, warn } from '../log.js';
import { run } from '../run.js';
import { copyRange, writeDisk, writePartitionTable } from '../disk/assemble.js';
import { openCompressorSink, openSparseFileSink, type ByteSink } from '../disk/byte-sink.js';
import { makeFileSystem } from '../disk/filesystems.js';
import {
  checkDiskConfig,
  ignoredSizeSettings,
  layoutDisk,
  minimizesRoot,
  planPartitions,
  sizeSetting,
  type FileSystemType,
  type PartitionPlan,
} from '../disk/layout.js';
import { LUKS_HEADER_SIZE, isEncrypted } from '../disk/luks.js';
import { fileSystemUuid } from '../disk/seeded-uuid.js';
import { withSplitTree } from '../disk/split-tree.js';
import { verityCommandLine, type EspOptions } from '../boot/index.js';
import { outputNames } from '../artifacts/names.js';
import { bootPlansAfterRootHash, isBootRole, splitKernelImage, stageBootTrees } from './disk-boot.js';
import { clampTreeTimes } from '../tree/clamp-times.js';
import { besideRoot } from '../workspace.js';
import { encryptImages, imageSize, protectRoot, stageBmap, stageDiskSidecars, type PartitionImages, type Protection } from './disk-trust.js';
import type { OutputFormat } from './types.js';

type DiskFormatName = 'gpt_ext4' | 'gpt_xfs' | 'gpt_btrfs' | 'gpt_squashfs' | 'plain_squashfs';

const FS_TOOLS: Readonly<Record<Exclude<FileSystemType, 'squashfs'>, readonly string[]>> = {
  ext4: ['mkfs.ext4', 'debugfs'],
  btrfs: ['mkfs.btrfs'],
  xfs: ['mkfs.xfs', 'xfs_db', 'getfattr'],
  swap: ['mkswap'],
  vfat: ['mkfs.fat', 'mcopy'],
  raw: [],
};

/** What a reproducible build needs besides: the sorted copy of the tree (tar), the list of inodes to stamp (dumpe2fs). */
const REPRODUCIBLE_TOOLS: Partial<Record<FileSystemType, readonly string[]>> = {
  ext4: ['tar', 'dumpe2fs'],
  btrfs: ['tar'],
};

function usesQcow2(config: Config): boolean {
  return config.QCow2 && config.Format !== 'plain_squashfs';
}

function requiredTools(config: Config): string[] {
  const tools = new Set<string>();
  for (const plan of planPartitions(config)) {
    if (plan.fs === 'squashfs') tools.add(config.Mksquashfs[0] ?? 'mksquashfs');
    else for (const tool of FS_TOOLS[plan.fs]) tools.add(tool);
    if (config.SourceDateEpoch !== null) for (const tool of REPRODUCIBLE_TOOLS[plan.fs] ?? []) tools.add(tool);
  }
  if (config.Format !== 'plain_squashfs') tools.add('sfdisk');
  if (minimizesRoot(config) && config.Format === 'gpt_ext4') for (const tool of ['resize2fs', 'dumpe2fs']) tools.add(tool);
  if (config.Verity !== false) tools.add('veritysetup');
  if (config.Verity === 'signed') tools.add('openssl');
  if (config.Encrypt !== null) tools.add('cryptsetup');
  if (config.BMap && config.Format !== 'plain_squashfs') tools.add('bmaptool');
  if (usesQcow2(config)) tools.add('qemu-img');
  const compression = outputCompression(config);
  if (compression && Object.hasOwn(COMPRESSOR_TOOLS, compression)) tools.add(COMPRESSOR_TOOLS[compression]);
  return [...tools];
}

async function check(config: Config): Promise<void> {
  const problems = checkDiskConfig(config);
  const compression = outputCompression(config);
  // Compress= means whole-file compression for ext4 and XFS disks, where only xz, zstd and gz exist.
  if (compression && !Object.hasOwn(COMPRESSOR_TOOLS, compression)) {
    problems.push(`${config.Format} images are compressed as a whole, which ${compression} cannot do: use CompressOutput=xz, zstd or gz, or CompressFs= for squashfs`);
  }
  if (problems.length > 0) throw new UserError(problems.join('\n'));
  const ignored = ignoredSizeSettings(config);
  if (ignored.length > 0) {
    const why =
      config.Format === 'plain_squashfs'
        ? 'a plain squashfs has no partitions'
        : ignored.includes('ESPSize') && ignored.length === 1
          ? 'only a Bootable=yes disk has an EFI system partition (as in mkosi 14)'
          : 'gpt_btrfs puts no data partitions beside its root (as in mkosi 14)';
    warn(`${ignored.map((s) => `${s}=`).join(', ')} ${ignored.length > 1 ? 'have' : 'has'} no effect: ${why}`);
  }
  if (config.QCow2 && config.Format === 'plain_squashfs') warn('QCow2= has no effect on plain_squashfs, which is a file system, not a disk');
  if (config.Format === 'gpt_btrfs' && effectiveFsCompression(config.Format, config.Compress, config.CompressFs) !== false) {
    warn('gpt_btrfs is written uncompressed: mkfs.btrfs --rootdir of btrfs-progs 6.2 cannot compress, and kiln mounts nothing');
  }
}

/** Makes every partition's file system; returns the image of each role. */
/** Like queue.addAll(), but on a failure waits for the other tasks before rethrowing (no mkfs outlives the scratch dir). */
async function settleAll(queue: PQueue, tasks: readonly (() => Promise<void>)[]): Promise<void> {
  try {
    await queue.addAll(tasks);
  } catch (error) {
    await queue.onIdle();
    throw error;
  }
}

const CONTENTS: Partial<Record<PartitionPlan['role'], string>> = {
  root: 'the image root',
  swap: 'swap',
  esp: 'the EFI system partition',
  xbootldr: 'the boot loader partition (XBOOTLDR)',
};

type Placements = ReadonlyMap<PartitionPlan['role'], { readonly file: string; readonly offset: number }>;

/** The directories that go into partitions of their own, deepest first (/var/tmp leaves /var before /var does). */
function splitMountPoints(plans: readonly PartitionPlan[]): string[] {
  return plans
    .filter((p) => p.role !== 'root' && p.mountPoint !== null)
    .map((p) => p.mountPoint!)
    .sort((a, b) => b.split('/').length - a.split('/').length);
}

interface ImageOptions {
  /** Where ext4 and FAT file systems are made right in the disk file. */
  readonly placements?: Placements;
  readonly espOptions?: EspOptions;
  /** The directories taken out of the root while it is made (default: those of `plans`). */
  readonly split?: readonly string[];
}

async function makeImages(context: BuildContext, plans: readonly PartitionPlan[], scratch: string, options: ImageOptions = {}): Promise<Map<PartitionPlan['role'], string>> {
  const { config } = context;
  const seed = context.reproducibility.seed ?? undefined;
  const epoch = context.reproducibility.epoch ?? undefined;
  const placements = options.placements ?? new Map();
  const separate = options.split ?? splitMountPoints(plans);
  const made = plans.filter((plan) => plan.fs !== 'raw');
  // Trees set aside for their own partitions are renamed, so they stay on the root's file system.
  const aside = await fs.mkdtemp(besideRoot(context.root, 'split-'));
  // The boot partitions' files are put together while the other file systems are made — unless the
  // image's /boot is about to leave the root for XBOOTLDR: its copy is taken first then.
  const boot = plans.some((p) => isBootRole(p.role)) ? stageBootTrees(context, plans, scratch, options.espOptions ?? {}) : undefined;
  boot?.catch(() => undefined);
  try {
    if (separate.includes('/boot')) await boot;
    return await withSplitTree(context.root, separate, aside, async (trees) => {
      // Splitting made mount points and moved directories: their times are the clock's again.
      if (epoch !== undefined && made.some((plan) => !isBootRole(plan.role))) for (const tree of [context.root, ...trees.values()]) await clampTreeTimes(tree, epoch);
      const images = new Map<PartitionPlan['role'], string>();
      // The file systems of /home, /srv, /var/tmp and swap are independent of the root's: make them
      // side by side, one per core (mkfs is mostly single-threaded).
      const queue = new PQueue({ concurrency: Math.max(1, os.availableParallelism()) });
      const titles = made.map((plan) => (plan.fs === 'swap' ? 'swap' : `${plan.fs} for ${plan.role === 'root' ? 'the root' : plan.role === 'esp' ? 'the ESP' : plan.mountPoint}`));
      await step(`Making the file system${made.length > 1 ? 's' : ''} (${titles.join(', ')})`, () =>
        settleAll(queue,
          made.map((plan) => async () => {
            const image = path.join(scratch, `${plan.role}.img`);
            const contents = plan.role === 'root' && config.UsrOnly ? "the image's /usr" : (CONTENTS[plan.role] ?? `the contents of ${plan.mountPoint}`);
            const rootTree = config.UsrOnly ? path.join(context.root, 'usr') : context.root;
            // Minimize=: made at RootSize=, then shrunk. Encrypt=: the LUKS2 header comes out of the partition.
            const minimize = plan.role === 'root' && minimizesRoot(config);
            const size = minimize ? config.RootSize : plan.size !== null && isEncrypted(config, plan.role) ? plan.size - LUKS_HEADER_SIZE : plan.size;
            const tree =
              plan.role === 'root' ? rootTree : isBootRole(plan.role) ? (await boot!).get(plan.role)! : (trees.get(plan.mountPoint ?? '') ?? scratch);
            await makeFileSystem({
              fs: plan.fs,
              tree,
              image,
              size,
              minimize,
              label: plan.label,
              mountPoint: plan.mountPoint,
              uuid: fileSystemUuid(seed, plan.role),
              epoch,
              contents,
              sizeSetting: sizeSetting(plan.role),
              compression: effectiveFsCompression(config.Format, config.Compress, config.CompressFs),
              mksquashfs: config.Mksquashfs,
              scratch,
              searchPaths: config.ExtraSearchPaths,
              placement: placements.get(plan.role),
            });
            images.set(plan.role, image);
          }),
        ),
      );
      return images;
    });
  } finally {
    // Nothing may still write into the scratch directory once the caller removes it.
    await boot?.catch(() => undefined);
    await fs.rm(aside, { recursive: true, force: true });
  }
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Streams the finished bytes into a sink and closes it; on failure the sink is aborted and the file removed. */
async function writeThrough(sink: ByteSink, file: string, write: (sink: ByteSink) => Promise<void>): Promise<string | undefined> {
  try {
    await write(sink);
    return await sink.close();
  } catch (error) {
    await sink.abort();
    await fs.rm(file, { force: true });
    throw error;
  }
}

async function openSink(context: BuildContext, file: string, compressed: boolean): Promise<ByteSink> {
  const { config } = context;
  const compression = compressed ? outputCompression(config) : false;
  if (!compression) return openSparseFileSink(file, { hash: config.Checksum });
  const argv = compressorCommand(compression, config.ExtraSearchPaths);
  return openCompressorSink(file, argv, { hash: config.Checksum, what: `Compressing the disk image with ${argv[0]}`, searchPaths: config.ExtraSearchPaths });
}

/**
 * The fast way for ext4 disks: the table goes into the sparse disk file, and mke2fs makes each file
 * system right inside it at its offset, so nothing is copied. It is taken when nothing has to see the
 * finished bytes as a stream (no SHA-256, no compression, no qcow2) and every partition is ext4 or
 * the ESP (mkfs.fat --offset) — gpt_ext4 without swap, mkosi's default format and the one people
 * iterate on.
 */
function writesInPlace(config: Config, plans: readonly PartitionPlan[]): boolean {
  return (
    config.Format === 'gpt_ext4' &&
    !config.Checksum &&
    config.Encrypt === null &&
    config.Verity === false &&
    !config.SplitArtifacts &&
    outputCompression(config) === false &&
    !usesQcow2(config) &&
    plans.every((plan) => (plan.fs === 'ext4' || plan.fs === 'vfat') && plan.size !== null)
  );
}

async function writeInPlace(context: BuildContext, plans: readonly PartitionPlan[], scratch: string, target: string): Promise<void> {
  const { config } = context;
  const layout = layoutDisk(plans.map((plan) => ({ ...plan, size: plan.size! })), layoutOptions(config, context.reproducibility.seed ?? undefined));
  await writePartitionTable(layout, target, config.ExtraSearchPaths);
  const placements = new Map(layout.partitions.map((partition) => [partition.role, { file: target, offset: partition.offset }]));
  await makeImages(context, plans, scratch, { placements });
  await fs.chmod(target, 0o644);
}

function layoutOptions(config: Config, seed: string | undefined): Parameters<typeof layoutDisk>[1] {
  return { architecture: config.Architecture, seed, usrOnly: config.UsrOnly, firstLba: config.GPTFirstLBA };
}

/** The partitions at their final sizes: fixed ones as planned, the others as large as their images. */
async function sizePlans(plans: readonly PartitionPlan[], images: PartitionImages, protection: Protection): Promise<(PartitionPlan & { size: number })[]> {
  return Promise.all(
    plans.map(async (plan) => ({
      ...plan,
      size: plan.size ?? (await imageSize(images, plan.role)),
      ...(protection.uuids.has(plan.role) ? { uuid: protection.uuids.get(plan.role)! } : {}),
    })),
  );
}

/**
 * Writes the disk image of `context.root` into `context.staging` under the name of Output= and
 * records it in `context.artifacts`. With a seed (Seed=, or a reproducible build's), the disk,
 * partition and file-system UUIDs and hash seeds derive from it instead of being random.
 */
export async function writeDiskOutput(context: BuildContext): Promise<void> {
  const { config } = context;
  const plans = planPartitions(config);
  const name = path.basename(config.Output);
  const target = path.join(context.staging, name);
  const scratch = await fs.mkdtemp(path.join(context.workspace, 'disk-'));
  try {
    if (writesInPlace(config, plans)) {
      await writeInPlace(context, plans, scratch, target);
      context.artifacts.push({ name, path: target, checksummed: true });
      const map = config.BMap ? await stageBmap(context, target) : undefined;
      if (map) context.artifacts.push(map);
      return;
    }
    const late = bootPlansAfterRootHash(config, plans);
    const images = await makeImages(context, plans.filter((plan) => !late.includes(plan)), scratch, { split: splitMountPoints(plans) });
    const protection = await protectRoot(context, images, scratch, context.reproducibility.seed ?? undefined);
    if (late.length > 0) {
      const espOptions = { extraCommandLine: verityCommandLine(config, protection.rootHash), rootHash: protection.rootHash };
      for (const [role, image] of await makeImages(context, late, scratch, { espOptions, split: [] })) images.set(role, image);
    }
    await encryptImages(context, images);
    let write: (sink: ByteSink) => Promise<void>;
    if (config.Format === 'plain_squashfs') {
      const image = images.get('root')!;
      const size = (await fs.stat(image)).size;
      write = (sink) => copyRange(image, 0, size, sink, config.ExtraSearchPaths);
    } else {
      const layout = layoutDisk(await sizePlans(plans, images, protection), layoutOptions(config, context.reproducibility.seed ?? undefined));
      const table = path.join(scratch, 'table.img');
      await writePartitionTable(layout, table, config.ExtraSearchPaths);
      const byNumber = new Map(layout.partitions.filter((p) => images.has(p.role)).map((p) => [p.number, images.get(p.role)!]));
      write = (sink) => writeDisk(layout, table, byNumber, sink, config.ExtraSearchPaths);
    }
    const bmap = config.BMap && config.Format !== 'plain_squashfs';
    let map: Artifact | undefined;
    let sha256: string | undefined;
    if (usesQcow2(config)) {
      const raw = path.join(scratch, 'disk.raw');
      await writeThrough(await openSparseFileSink(raw, { hash: false }), raw, write);
      const compressed = outputCompression(config) !== false;
      const qcow2 = compressed ? path.join(scratch, 'disk.qcow2') : target;
      await step('Converting the disk image to qcow2', () =>
        run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2], { what: 'Converting the disk image to qcow2', searchPaths: config.ExtraSearchPaths }),
      );
      await fs.rm(raw);
      // mkosi 14 maps the qcow2 file, as it is before compression.
      if (bmap) map = await stageBmap(context, qcow2);
      if (compressed) {
        const size = (await fs.stat(qcow2)).size;
        sha256 = await writeThrough(await openSink(context, target, true), target, (sink) => copyRange(qcow2, 0, size, sink, config.ExtraSearchPaths));
      } else {
        await fs.chmod(target, 0o644);
        // qemu-img writes the file itself, so this one artifact is read back once to hash it.
        if (config.Checksum) sha256 = await hashFile(target);
      }
    } else if (bmap && outputCompression(config) !== false) {
      // The block map describes the uncompressed image: it is written whole first, then compressed.
      const raw = path.join(scratch, 'disk.raw');
      await step('Writing the disk image', async () => writeThrough(await openSparseFileSink(raw, { hash: false }), raw, write));
      map = await stageBmap(context, raw);
      const size = (await fs.stat(raw)).size;
      sha256 = await step('Compressing the disk image', async () => writeThrough(await openSink(context, target, true), target, (sink) => copyRange(raw, 0, size, sink, config.ExtraSearchPaths)));
    } else {
      sha256 = await step('Writing the disk image', async () => writeThrough(await openSink(context, target, true), target, write));
      if (bmap) map = await stageBmap(context, target);
    }
    context.artifacts.push({ name, path: target, sha256, checksummed: true });
    if (map) context.artifacts.push(map);
    const kernel = outputNames(config).splitKernel !== undefined ? await splitKernelImage(plans, scratch) : undefined;
    await stageDiskSidecars(context, images, protection, kernel, (file, compressed) => openSink(context, file, compressed));
  } catch (error) {
    await fs.rm(target, { force: true });
    throw error;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function diskOutput(name: DiskFormatName): OutputFormat {
  return {
    name,
    requiredTools,
    check,
    write: (context) => writeDiskOutput(context),
  };
}

export const gptExt4Output = diskOutput('gpt_ext4');
export const gptXfsOutput = diskOutput('gpt_xfs');
export const gptBtrfsOutput = diskOutput('gpt_btrfs');
export const gptSquashfsOutput = diskOutput('gpt_squashfs');
export const plainSquashfsOutput = diskOutput('plain_squashfs');
