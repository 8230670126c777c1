import { describe, expect, it } from 'vitest';
import { checkDiskConfig, ignoredSizeSettings, layoutDisk, MiB, planPartitions, sfdiskScript, type DiskConfig } from '../../../src/disk/layout.js';
import { isEncrypted } from '../../../src/disk/luks.js';
import { dataPartitionUuid, hexToUuid, verityPartitionUuid } from '../../../src/disk/verity.js';

const GiB = 1024 * MiB;

function config(overrides: Partial<DiskConfig> = {}): DiskConfig {
  return {
    Format: 'gpt_ext4',
    Architecture: 'x86_64',
    RootSize: 3 * GiB,
    HomeSize: null,
    SrvSize: null,
    TmpSize: null,
    SwapSize: null,
    XbootldrSize: null,
    VarSize: null,
    BiosSize: null,
    ReadOnly: false,
    ImageId: null,
    ImageVersion: null,
    UsrOnly: false,
    Minimize: false,
    GPTFirstLBA: null,
    Verity: false,
    Bootable: false,
    ESPSize: null,
    ...overrides,
  };
}

const ROOT_HASH = '7b904703d2e06a853ed07b2c45782ee1f0084d5714e40461f31edb8fe9e53fa9';

describe('the partitions of issue 18', () => {
  it('orders BIOS boot, swap, home, srv, var, tmp, root, verity, signature as mkosi 14 does', () => {
    const plans = planPartitions(config({ BiosSize: MiB, SwapSize: 64 * MiB, HomeSize: 64 * MiB, SrvSize: 64 * MiB, VarSize: 64 * MiB, TmpSize: 64 * MiB, Verity: 'signed', ReadOnly: true }));
    expect(plans.map((p) => p.role)).toEqual(['bios', 'swap', 'home', 'srv', 'var', 'tmp', 'root', 'verity', 'signature']);
    expect(plans.map((p) => p.name)).toEqual([
      'BIOS Boot Partition',
      'Swap Partition',
      'Home Partition',
      'Server Data Partition',
      'Variable Data Partition',
      'Temporary Data Partition',
      'Root Partition',
      'Root Verity',
      'Root Signature',
    ]);
    expect(plans.find((p) => p.role === 'bios')).toMatchObject({ fs: 'raw', growFs: false, mountPoint: null });
    expect(plans.filter((p) => p.role === 'verity' || p.role === 'signature').every((p) => p.readOnly && p.size === null)).toBe(true);
  });

  it('puts XBOOTLDR after BIOS boot and before swap, as FAT with the image\'s /boot, on every GPT format', () => {
    const plans = planPartitions(config({ Bootable: true, ESPSize: 256 * MiB, BiosSize: MiB, XbootldrSize: 512 * MiB, SwapSize: 64 * MiB }));
    expect(plans.map((p) => p.role)).toEqual(['esp', 'bios', 'xbootldr', 'swap', 'root']);
    expect(plans.find((p) => p.role === 'xbootldr')).toMatchObject({ fs: 'vfat', name: 'Boot Loader Partition', label: 'XBOOTLDR', mountPoint: '/boot', growFs: false, size: 512 * MiB });
    const layout = layoutDisk(plans.map((p) => ({ ...p, size: p.size ?? MiB })), { architecture: 'x86_64' });
    expect(layout.partitions.find((p) => p.role === 'xbootldr')!.typeUuid).toBe('bc13c2ff-59e6-4262-a352-b275fd6f7172');
    expect(planPartitions(config({ Format: 'gpt_btrfs', XbootldrSize: 64 * MiB })).map((p) => p.role)).toEqual(['xbootldr', 'root']);
    expect(checkDiskConfig(config({ XbootldrSize: 16 * MiB }))).toEqual(['XbootldrSize= is 16 MiB, but a FAT32 boot loader partition needs at least 33 MiB']);
    expect(ignoredSizeSettings(config({ Format: 'plain_squashfs', XbootldrSize: 64 * MiB }))).toEqual(['XbootldrSize']);
  });

  it('keeps BIOS boot and swap on gpt_btrfs, and reports VarSize= ignored there', () => {
    const c = config({ Format: 'gpt_btrfs', BiosSize: MiB, VarSize: 64 * MiB });
    expect(planPartitions(c).map((p) => p.role)).toEqual(['bios', 'root']);
    expect(ignoredSizeSettings(c)).toEqual(['VarSize']);
  });

  it('sizes a Minimize= root by its image for ext4 and btrfs, and refuses it for XFS', () => {
    expect(planPartitions(config({ Minimize: true })).at(-1)!.size).toBeNull();
    expect(planPartitions(config({ Format: 'gpt_btrfs', Minimize: true })).at(-1)!.size).toBeNull();
    expect(checkDiskConfig(config({ Format: 'gpt_xfs', Minimize: true }))).toEqual([expect.stringMatching(/^Minimize= makes minimal ext4 and btrfs/)]);
  });

  it('starts the first partition exactly at GPTFirstLBA= and refuses one inside the table', () => {
    const layout = layoutDisk(planPartitions(config({ GPTFirstLBA: 64, BiosSize: MiB })).map((p) => ({ ...p, size: p.size! })), { architecture: 'x86_64', firstLba: 64 });
    expect(layout.partitions.map((p) => p.offset)).toEqual([64 * 512, 64 * 512 + MiB]);
    expect(sfdiskScript(layout)).toContain('first-lba: 64\n');
    expect(layout.size % MiB).toBe(0);
    expect(checkDiskConfig(config({ GPTFirstLBA: 33 }))).toEqual([expect.stringMatching(/^GPTFirstLBA=33 leaves no room/)]);
  });

  it('types the /usr, verity and signature partitions by architecture and takes fixed UUIDs as given', () => {
    const plans = planPartitions(config({ UsrOnly: true, Verity: true, ReadOnly: true })).map((p) => ({
      ...p,
      size: p.size ?? MiB,
      ...(p.role === 'root' ? { uuid: dataPartitionUuid(ROOT_HASH) } : p.role === 'verity' ? { uuid: verityPartitionUuid(ROOT_HASH) } : {}),
    }));
    const layout = layoutDisk(plans, { architecture: 'x86_64', usrOnly: true });
    expect(layout.partitions.map((p) => [p.name, p.typeUuid, p.uuid])).toEqual([
      ['System Resources Partition', '8484680c-9521-48c6-9c11-b0720656f69e', '7b904703-d2e0-6a85-3ed0-7b2c45782ee1'],
      ['System Resources Verity', '77ff5f63-e7b6-4633-acf4-1565b864c0e6', 'f0084d57-14e4-0461-f31e-db8fe9e53fa9'],
    ]);
    expect(planPartitions(config({ UsrOnly: true })).at(-1)).toMatchObject({ mountPoint: '/usr', label: 'usr' });
  });

  it('refuses Verity= on plain_squashfs and architectures without verity types', () => {
    expect(checkDiskConfig(config({ Format: 'plain_squashfs', Verity: true }))).toEqual([expect.stringMatching(/^Verity= needs a partition table/)]);
    expect(checkDiskConfig(config({ Architecture: 'mips64el', Verity: true }))).toEqual([expect.stringMatching(/no \/usr and verity partition types for Architecture=mips64el/)]);
  });
});

describe('Verity= UUIDs and Encrypt= partitions', () => {
  it('takes the data partition UUID from the first and the verity one from the last 128 bits of the root hash', () => {
    expect(hexToUuid('00112233445566778899aabbccddeeff')).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(dataPartitionUuid(ROOT_HASH)).toBe('7b904703-d2e0-6a85-3ed0-7b2c45782ee1');
    expect(verityPartitionUuid(ROOT_HASH)).toBe('f0084d57-14e4-0461-f31e-db8fe9e53fa9');
  });

  it('encrypts the data partitions with data, and the root too with all, never swap or verity', () => {
    const roles = ['swap', 'home', 'srv', 'var', 'tmp', 'root', 'verity', 'bios'] as const;
    expect(roles.filter((r) => isEncrypted({ Encrypt: 'data' }, r))).toEqual(['home', 'srv', 'var', 'tmp']);
    expect(roles.filter((r) => isEncrypted({ Encrypt: 'all' }, r))).toEqual(['home', 'srv', 'var', 'tmp', 'root']);
    expect(roles.filter((r) => isEncrypted({ Encrypt: null }, r))).toEqual([]);
  });
});
