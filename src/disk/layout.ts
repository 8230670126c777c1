/**
 * The partition layout of a GPT disk image, as pure functions of the configuration: which partitions
 * there are (in mkosi 14's order: esp, bios, xbootldr, swap, home, srv, var, tmp, root, then root verity and
 * its signature), their file systems, sizes, 1 MiB aligned offsets, Discoverable Partitions types,
 * names, attribute bits and UUIDs, and the sfdisk script that writes the table.
 */
import { isDiskFormat, rootPartitionLabel } from '../config/derived.js';
import type { Config } from '../config/types.js';
import { PARTITION_TYPES, rootPartitionType, verityPartitionTypes } from './partition-types.js';
import { makeUuid } from './seeded-uuid.js';

export const MiB = 1024 ** 2;
export const SECTOR_SIZE = 512;
/**
 * Partitions start and end on 1 MiB boundaries, as libfdisk does by default: aligned for 512-byte
 * and 4 KiB sectors alike, and room before the first one for the primary table (34 sectors).
 */
export const ALIGNMENT = MiB;
/** GPT attribute bits of the Discoverable Partitions Specification. */
export const ATTRIBUTE_GROWFS = 59;
export const ATTRIBUTE_READ_ONLY = 60;
/** xfsprogs 5.19 and later refuse to make a smaller XFS. */
export const XFS_MINIMUM_SIZE = 300 * MiB;
/** A GPT partition name holds 36 UTF-16 code units. */
export const GPT_NAME_LENGTH = 36;
/**
 * FAT32 (which UEFI wants for an ESP, and mkosi 14 makes for XBOOTLDR too) needs at least 65525 clusters, or readers take it for FAT16:
 * with 512-byte clusters that is a little over 32 MiB.
 */
export const ESP_MINIMUM_SIZE = 33 * MiB;
/** The protective MBR, the GPT header and 128 entries of 128 bytes: no partition can start before. */
export const MINIMUM_FIRST_LBA = 34;

export type PartitionRole = 'esp' | 'bios' | 'xbootldr' | 'swap' | 'home' | 'srv' | 'var' | 'tmp' | 'root' | 'verity' | 'signature';
/** `raw`: no file system, the partition holds bytes made elsewhere (verity hashes, a signature) or nothing (BIOS boot). */
export type FileSystemType = 'ext4' | 'btrfs' | 'xfs' | 'squashfs' | 'swap' | 'vfat' | 'raw';

export type DiskConfig = Pick<
  Config,
  | 'Format'
  | 'Architecture'
  | 'RootSize'
  | 'HomeSize'
  | 'SrvSize'
  | 'TmpSize'
  | 'SwapSize'
  | 'VarSize'
  | 'BiosSize'
  | 'ReadOnly'
  | 'ImageId'
  | 'ImageVersion'
  | 'UsrOnly'
  | 'Bootable'
  | 'ESPSize'
  | 'XbootldrSize'
  | 'Minimize'
  | 'GPTFirstLBA'
  | 'Verity'
>;

/** One partition as the configuration asks for it. */
export interface PartitionPlan {
  readonly role: PartitionRole;
  readonly fs: FileSystemType;
  /**
   * Size in bytes, a multiple of ALIGNMENT; null when the image decides it (squashfs, Minimize=, the
   * verity hashes and signature).
   */
  readonly size: number | null;
  /** GPT partition name. */
  readonly name: string;
  /** File system label. */
  readonly label: string;
  /**
   * Where it is mounted, which is also the directory of the tree it holds (/usr for UsrOnly=); null
   * for swap, raw partitions and the ESP, whose contents the boot code puts together (src/boot/).
   */
  readonly mountPoint: string | null;
  readonly readOnly: boolean;
  /** systemd-growfs may grow the file system to the partition (bit 59), as systemd-repart marks writable ones. */
  readonly growFs: boolean;
  /** A UUID that must be exactly this (Verity= derives them from the root hash). */
  readonly uuid?: string;
}

export interface PlacedPartition extends PartitionPlan {
  /** 1-based partition number. */
  readonly number: number;
  readonly size: number;
  /** Byte offset in the disk. */
  readonly offset: number;
  readonly typeUuid: string;
  readonly uuid: string;
  /** GPT attribute bit numbers, ascending. */
  readonly attributes: readonly number[];
}

export interface DiskLayout {
  /** Total size in bytes. */
  readonly size: number;
  readonly uuid: string;
  /** The first usable sector, where the first partition starts. */
  readonly firstLba: number;
  readonly partitions: readonly PlacedPartition[];
}

interface DataPartition {
  readonly role: 'bios' | 'xbootldr' | 'swap' | 'home' | 'srv' | 'var' | 'tmp';
  readonly setting: 'BiosSize' | 'XbootldrSize' | 'SwapSize' | 'HomeSize' | 'SrvSize' | 'VarSize' | 'TmpSize';
  readonly name: string;
  readonly mountPoint: string | null;
  /** Not a file system of the image's (BIOS boot, swap): present with every GPT format, gpt_btrfs too. */
  readonly everyFormat: boolean;
}

/** mkosi 14's names for them (initialize_partition_table). */
const DATA_PARTITIONS: readonly DataPartition[] = [
  { role: 'bios', setting: 'BiosSize', name: 'BIOS Boot Partition', mountPoint: null, everyFormat: true },
  // The Extended Boot Loader Partition: the image's /boot (mkosi 14 mounted it there while building),
  // with the kernels, initrds and boot entries or unified kernel images (src/boot/).
  { role: 'xbootldr', setting: 'XbootldrSize', name: 'Boot Loader Partition', mountPoint: '/boot', everyFormat: true },
  { role: 'swap', setting: 'SwapSize', name: 'Swap Partition', mountPoint: null, everyFormat: true },
  { role: 'home', setting: 'HomeSize', name: 'Home Partition', mountPoint: '/home', everyFormat: false },
  { role: 'srv', setting: 'SrvSize', name: 'Server Data Partition', mountPoint: '/srv', everyFormat: false },
  { role: 'var', setting: 'VarSize', name: 'Variable Data Partition', mountPoint: '/var', everyFormat: false },
  { role: 'tmp', setting: 'TmpSize', name: 'Temporary Data Partition', mountPoint: '/var/tmp', everyFormat: false },
];

/** The size setting of a partition, for messages. */
export function sizeSetting(role: PartitionRole): string {
  if (role === 'root') return 'RootSize';
  if (role === 'esp') return 'ESPSize';
  if (role === 'verity' || role === 'signature') return 'Verity';
  return DATA_PARTITIONS.find((p) => p.role === role)!.setting;
}

export function alignUp(bytes: number, alignment = ALIGNMENT): number {
  return Math.ceil(bytes / alignment) * alignment;
}

/** The root file system of each disk format. */
export function rootFileSystem(format: Config['Format']): FileSystemType {
  switch (format) {
    case 'gpt_ext4':
      return 'ext4';
    case 'gpt_xfs':
      return 'xfs';
    case 'gpt_btrfs':
      return 'btrfs';
    case 'gpt_squashfs':
    case 'plain_squashfs':
      return 'squashfs';
    default:
      throw new Error(`internal: ${format} is not a disk format`);
  }
}

/**
 * The file system of /home, /srv and /var/tmp partitions: mkosi 14 uses the root's for XFS and ext4
 * otherwise (squashfs cannot be written to); gpt_btrfs and plain_squashfs have none.
 */
function dataFileSystem(format: Config['Format']): FileSystemType | null {
  if (format === 'gpt_btrfs' || format === 'plain_squashfs') return null;
  return format === 'gpt_xfs' ? 'xfs' : 'ext4';
}

function isEnabled(size: number | null): size is number {
  return size !== null && size > 0;
}

/** Size settings that are set but have no effect for this format (mkosi 14 ignores them silently). */
export function ignoredSizeSettings(config: DiskConfig): string[] {
  const dataFs = dataFileSystem(config.Format);
  const ignored: string[] = DATA_PARTITIONS.filter((p) => isEnabled(config[p.setting]))
    .filter((p) => config.Format === 'plain_squashfs' || (!p.everyFormat && dataFs === null))
    .map((p) => p.setting);
  if (isEnabled(config.ESPSize) && !hasEsp(config)) ignored.unshift('ESPSize');
  return ignored;
}

/** A bootable GPT disk starts with an EFI system partition (mkosi 14: only with Bootable=yes). */
export function hasEsp(config: Pick<DiskConfig, 'Format' | 'Bootable' | 'ESPSize'>): boolean {
  return config.Bootable && isDiskFormat(config.Format) && isEnabled(config.ESPSize);
}

/** Minimize= (mkosi 14): ext4 shrunk by resize2fs -M, btrfs made with --shrink; squashfs always is. */
export function minimizesRoot(config: Pick<DiskConfig, 'Format' | 'Minimize'>): boolean {
  return config.Minimize && (config.Format === 'gpt_ext4' || config.Format === 'gpt_btrfs');
}

/** The partitions of the image, in table order. plain_squashfs has only its root, and no table. */
export function planPartitions(config: DiskConfig): PartitionPlan[] {
  const rootFs = rootFileSystem(config.Format);
  const root: PartitionPlan = {
    role: 'root',
    fs: rootFs,
    size: rootFs === 'squashfs' || minimizesRoot(config) ? null : alignUp(config.RootSize),
    name: rootPartitionLabel(config),
    label: config.UsrOnly ? 'usr' : 'root',
    mountPoint: config.UsrOnly ? '/usr' : '/',
    readOnly: config.ReadOnly,
    growFs: !config.ReadOnly && rootFs !== 'squashfs',
  };
  if (config.Format === 'plain_squashfs') return [root];
  const dataFs = dataFileSystem(config.Format);
  const plans: PartitionPlan[] = [];
  if (hasEsp(config)) {
    plans.push({
      role: 'esp',
      fs: 'vfat',
      size: alignUp(config.ESPSize!),
      name: 'ESP System Partition',
      label: 'EFI',
      mountPoint: null,
      readOnly: false,
      growFs: false,
    });
  }
  for (const partition of DATA_PARTITIONS) {
    const size = config[partition.setting];
    if (!isEnabled(size)) continue;
    const fs = partition.role === 'swap' ? 'swap' : partition.role === 'bios' ? 'raw' : partition.role === 'xbootldr' ? 'vfat' : dataFs;
    if (fs === null) continue;
    plans.push({
      role: partition.role,
      fs,
      size: alignUp(size),
      name: partition.name,
      label: partition.role === 'xbootldr' ? 'XBOOTLDR' : partition.role,
      mountPoint: partition.mountPoint,
      readOnly: false,
      growFs: fs !== 'swap' && fs !== 'raw' && fs !== 'vfat',
    });
  }
  plans.push(root);
  if (config.Verity !== false) plans.push(rawPlan('verity', rootPartitionLabel(config, 'Verity')));
  if (config.Verity === 'signed') plans.push(rawPlan('signature', rootPartitionLabel(config, 'Signature')));
  return plans;
}

/** The verity hash and signature partitions: read-only, sized by what goes in. */
function rawPlan(role: 'verity' | 'signature', name: string): PartitionPlan {
  return { role, fs: 'raw', size: null, name, label: role, mountPoint: null, readOnly: true, growFs: false };
}

/** Problems with the configuration that make a disk impossible, as one-line messages. */
export function checkDiskConfig(config: DiskConfig): string[] {
  const problems: string[] = [];
  if (config.Format !== 'plain_squashfs' && rootPartitionType(config.Architecture) === undefined) {
    problems.push(`the Discoverable Partitions Specification has no root partition type for Architecture=${config.Architecture}`);
  } else if ((config.UsrOnly || config.Verity !== false) && config.Format !== 'plain_squashfs' && verityPartitionTypes(config.Architecture, config.UsrOnly) === undefined) {
    problems.push(`kiln knows no /usr and verity partition types for Architecture=${config.Architecture} (needed by ${config.UsrOnly ? 'UsrOnly=' : 'Verity='})`);
  }
  if (config.Minimize && config.Format === 'gpt_xfs') {
    problems.push('Minimize= makes minimal ext4 and btrfs file systems only, as in mkosi 14: XFS cannot shrink');
  }
  if (config.Verity !== false && config.Format === 'plain_squashfs') {
    problems.push('Verity= needs a partition table to put the verity data beside the root: use Format=gpt_squashfs');
  }
  if (config.GPTFirstLBA !== null && config.GPTFirstLBA < MINIMUM_FIRST_LBA) {
    problems.push(`GPTFirstLBA=${config.GPTFirstLBA} leaves no room for the partition table: the first usable sector is ${MINIMUM_FIRST_LBA} at the earliest`);
  }
  const plans = planPartitions(config);
  const root = plans.find((p) => p.role === 'root')!;
  if (root.name.length > GPT_NAME_LENGTH) {
    problems.push(`the root partition name "${root.name}" (from ImageId= and ImageVersion=) is longer than the ${GPT_NAME_LENGTH} characters GPT allows`);
  }
  // sfdisk takes the name in double quotes and has no way to escape one.
  if (/["\\\p{Cc}]/u.test(root.name)) {
    problems.push(`the root partition name "${root.name}" (from ImageId= and ImageVersion=) contains a quote, backslash or control character`);
  }
  for (const plan of plans) {
    if (plan.role === 'esp' && plan.size! < ESP_MINIMUM_SIZE) {
      problems.push(`ESPSize= is ${formatBytes(plan.size!)}, but a FAT32 EFI system partition needs at least ${formatBytes(ESP_MINIMUM_SIZE)}`);
    }
    if (plan.role === 'xbootldr' && plan.size! < ESP_MINIMUM_SIZE) {
      problems.push(`XbootldrSize= is ${formatBytes(plan.size!)}, but a FAT32 boot loader partition needs at least ${formatBytes(ESP_MINIMUM_SIZE)}`);
    }
    if (plan.fs === 'xfs' && plan.size !== null && plan.size < XFS_MINIMUM_SIZE) {
      const setting = sizeSetting(plan.role);
      problems.push(`${setting}= is ${formatBytes(plan.size)}, but xfsprogs makes no XFS smaller than ${formatBytes(XFS_MINIMUM_SIZE)}`);
    }
  }
  return problems;
}

/**
 * Places the partitions one after the other from 1 MiB (or exactly from `firstLba`, GPTFirstLBA=, as
 * mkosi 14 honours it), each size rounded up to 1 MiB, and leaves 1 MiB at the end for the backup
 * table. UUIDs derive from `seed` when given.
 */
export function layoutDisk(
  plans: readonly (PartitionPlan & { readonly size: number })[],
  options: { readonly architecture: string; readonly seed?: string; readonly usrOnly?: boolean; readonly firstLba?: number | null },
): DiskLayout {
  const firstLba = options.firstLba ?? ALIGNMENT / SECTOR_SIZE;
  let offset = firstLba * SECTOR_SIZE;
  const partitions = plans.map((plan, index): PlacedPartition => {
    const size = alignUp(plan.size);
    const placed: PlacedPartition = {
      ...plan,
      number: index + 1,
      size,
      offset,
      typeUuid: partitionType(plan.role, options.architecture, options.usrOnly ?? false),
      uuid: plan.uuid ?? makeUuid(options.seed, `partition:${plan.role}`),
      attributes: [...(plan.growFs ? [ATTRIBUTE_GROWFS] : []), ...(plan.readOnly ? [ATTRIBUTE_READ_ONLY] : [])],
    };
    offset += size;
    return placed;
  });
  return { size: alignUp(offset) + ALIGNMENT, uuid: makeUuid(options.seed, 'disk'), firstLba, partitions };
}

function partitionType(role: PartitionRole, architecture: string, usrOnly: boolean): string {
  if (role !== 'root' && role !== 'verity' && role !== 'signature') return PARTITION_TYPES[role];
  const type = role === 'root' && !usrOnly ? rootPartitionType(architecture) : verityPartitionTypes(architecture, usrOnly)?.[role === 'root' ? 'data' : role];
  if (type === undefined) throw new Error(`internal: no ${role} partition type for ${architecture} (checkDiskConfig lets none through)`);
  return type;
}

/** The sfdisk input that writes exactly this table, in sectors. */
export function sfdiskScript(layout: DiskLayout): string {
  const header = [
    'label: gpt',
    `label-id: ${layout.uuid}`,
    'unit: sectors',
    `sector-size: ${SECTOR_SIZE}`,
    `first-lba: ${layout.firstLba}`,
  ];
  const lines = layout.partitions.map((p) => {
    const fields = [
      `start=${p.offset / SECTOR_SIZE}`,
      `size=${p.size / SECTOR_SIZE}`,
      `type=${p.typeUuid}`,
      `uuid=${p.uuid}`,
      `name="${p.name}"`,
    ];
    if (p.attributes.length > 0) fields.push(`attrs="GUID:${p.attributes.join(',')}"`);
    return fields.join(', ');
  });
  return `${[...header, '', ...lines].join('\n')}\n`;
}

/** "3 GiB", "300 MiB", "1.5 GiB": sizes in messages. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[unit]}`;
}
