import { describe, expect, it } from 'vitest';
import {
  alignUp,
  checkDiskConfig,
  formatBytes,
  ignoredSizeSettings,
  layoutDisk,
  MiB,
  planPartitions,
  sfdiskScript,
  type DiskConfig,
  type PartitionPlan,
} from '../../../src/disk/layout.js';
import { makeUuid } from '../../../src/disk/seeded-uuid.js';

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
    ReadOnly: false,
    ImageId: null,
    ImageVersion: null,
    UsrOnly: false,
    Bootable: false,
    ESPSize: null,
    VarSize: null,
    BiosSize: null,
    Minimize: false,
    GPTFirstLBA: null,
    Verity: false,
    ...overrides,
  };
}

/** Plans with sizes filled in, as the disk writer does once the images exist. */
function sized(plans: PartitionPlan[], squashfsSize = 100 * MiB + 7): (PartitionPlan & { size: number })[] {
  return plans.map((plan) => ({ ...plan, size: plan.size ?? squashfsSize }));
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('planPartitions', () => {
  it('gives gpt_ext4 a single writable 3 GiB root named as mkosi 14 does', () => {
    expect(planPartitions(config())).toEqual([
      { role: 'root', fs: 'ext4', size: 3 * GiB, name: 'Root Partition', label: 'root', mountPoint: '/', readOnly: false, growFs: true },
    ]);
  });

  it('names the root <ImageId>_<ImageVersion>, or <ImageId> alone', () => {
    expect(planPartitions(config({ ImageId: 'web', ImageVersion: '1.2' }))[0]?.name).toBe('web_1.2');
    expect(planPartitions(config({ ImageId: 'web' }))[0]?.name).toBe('web');
  });

  it('puts swap, home, srv and tmp before the root, in mkosi 14 order, sized up to whole MiB', () => {
    const plans = planPartitions(config({ SwapSize: 64 * MiB, HomeSize: 100 * MiB + 1, SrvSize: 200 * MiB, TmpSize: 300 * MiB }));
    expect(plans.map((p) => [p.role, p.fs, p.size, p.mountPoint, p.name])).toEqual([
      ['swap', 'swap', 64 * MiB, null, 'Swap Partition'],
      ['home', 'ext4', 101 * MiB, '/home', 'Home Partition'],
      ['srv', 'ext4', 200 * MiB, '/srv', 'Server Data Partition'],
      ['tmp', 'ext4', 300 * MiB, '/var/tmp', 'Temporary Data Partition'],
      ['root', 'ext4', 3 * GiB, '/', 'Root Partition'],
    ]);
    expect(plans.filter((p) => p.role !== 'swap').every((p) => p.growFs)).toBe(true);
    expect(plans.find((p) => p.role === 'swap')?.growFs).toBe(false);
  });

  it('treats a size of 0 as no partition', () => {
    expect(planPartitions(config({ HomeSize: 0, SwapSize: 0 })).map((p) => p.role)).toEqual(['root']);
  });

  it('uses XFS for the data partitions of gpt_xfs and ext4 beside a squashfs root', () => {
    expect(planPartitions(config({ Format: 'gpt_xfs', HomeSize: GiB })).map((p) => p.fs)).toEqual(['xfs', 'xfs']);
    expect(planPartitions(config({ Format: 'gpt_squashfs', HomeSize: GiB, ReadOnly: true })).map((p) => p.fs)).toEqual(['ext4', 'squashfs']);
  });

  it('sizes a squashfs root by its image and marks it read-only without growfs', () => {
    const [root] = planPartitions(config({ Format: 'gpt_squashfs', ReadOnly: true }));
    expect(root).toMatchObject({ fs: 'squashfs', size: null, readOnly: true, growFs: false });
  });

  it('gives gpt_btrfs no data partitions but keeps swap, and reports the ignored settings', () => {
    const btrfs = config({ Format: 'gpt_btrfs', HomeSize: GiB, TmpSize: GiB, SwapSize: 64 * MiB });
    expect(planPartitions(btrfs).map((p) => p.role)).toEqual(['swap', 'root']);
    expect(ignoredSizeSettings(btrfs)).toEqual(['HomeSize', 'TmpSize']);
  });

  it('gives plain_squashfs only its root and ignores every partition size', () => {
    const plain = config({ Format: 'plain_squashfs', HomeSize: GiB, SwapSize: MiB, ReadOnly: true });
    expect(planPartitions(plain).map((p) => p.role)).toEqual(['root']);
    expect(ignoredSizeSettings(plain)).toEqual(['SwapSize', 'HomeSize']);
  });

  it('marks a ReadOnly= root read-only and not growable', () => {
    const [root] = planPartitions(config({ ReadOnly: true }));
    expect(root).toMatchObject({ readOnly: true, growFs: false });
  });
});

describe('the EFI system partition', () => {
  it('comes first in a Bootable=yes disk, before swap, as mkosi 14 orders them', () => {
    const plans = planPartitions(config({ Bootable: true, ESPSize: 256 * MiB, SwapSize: 100 * MiB }));
    expect(plans.map((plan) => plan.role)).toEqual(['esp', 'swap', 'root']);
    expect(plans[0]).toEqual({ role: 'esp', fs: 'vfat', size: 256 * MiB, name: 'ESP System Partition', label: 'EFI', mountPoint: null, readOnly: false, growFs: false });
    const layout = layoutDisk(sized(plans), { architecture: 'x86_64' });
    expect(layout.partitions[0]).toMatchObject({ number: 1, offset: MiB, typeUuid: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', attributes: [] });
  });

  it('is there for gpt_squashfs too, but not for plain_squashfs or without Bootable=yes', () => {
    expect(planPartitions(config({ Format: 'gpt_squashfs', Bootable: true, ESPSize: 64 * MiB }))[0]?.role).toBe('esp');
    expect(planPartitions(config({ Format: 'plain_squashfs', Bootable: true, ESPSize: 64 * MiB })).map((p) => p.role)).toEqual(['root']);
    expect(planPartitions(config({ ESPSize: 64 * MiB })).map((p) => p.role)).toEqual(['root']);
  });

  it('reports ESPSize= without Bootable=yes as having no effect', () => {
    expect(ignoredSizeSettings(config({ ESPSize: 64 * MiB }))).toEqual(['ESPSize']);
    expect(ignoredSizeSettings(config({ ESPSize: 64 * MiB, Bootable: true }))).toEqual([]);
  });

  it('refuses an ESP too small for FAT32', () => {
    expect(checkDiskConfig(config({ Bootable: true, ESPSize: 32 * MiB }))).toEqual(['ESPSize= is 32 MiB, but a FAT32 EFI system partition needs at least 33 MiB']);
    expect(checkDiskConfig(config({ Bootable: true, ESPSize: 33 * MiB }))).toEqual([]);
  });
});

describe('layoutDisk', () => {
  const plans = sized(planPartitions(config({ Format: 'gpt_squashfs', ReadOnly: true, SwapSize: 10 * MiB + 5, HomeSize: 300 * MiB })));
  const layout = layoutDisk(plans, { architecture: 'x86_64', seed: 'test' });

  it('starts at 1 MiB, packs the partitions on 1 MiB boundaries and leaves 1 MiB for the backup table', () => {
    expect(layout.partitions.map((p) => [p.number, p.role, p.offset / MiB, p.size / MiB])).toEqual([
      [1, 'swap', 1, 11],
      [2, 'home', 12, 300],
      [3, 'root', 312, 101],
    ]);
    expect(layout.size).toBe(414 * MiB);
    for (const p of layout.partitions) {
      expect(p.offset % MiB).toBe(0);
      expect(p.size % MiB).toBe(0);
    }
  });

  it('uses the Discoverable Partitions types and sets bits 60 (read-only) and 59 (growfs)', () => {
    expect(layout.partitions.map((p) => [p.role, p.typeUuid, p.attributes])).toEqual([
      ['swap', '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', []],
      ['home', '933ac7e1-2eb4-4f13-b844-0e14e2aef915', [59]],
      ['root', '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', [60]],
    ]);
    const srvTmp = layoutDisk(sized(planPartitions(config({ SrvSize: MiB, TmpSize: MiB }))), { architecture: 'x86_64' });
    expect(srvTmp.partitions.map((p) => p.typeUuid)).toEqual([
      '3b8f8425-20e0-4f3b-907f-1a25a76f98e8',
      '7ec6f557-3bc5-4aca-b293-16ef5df639d1',
      '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
    ]);
  });

  it.each([
    ['x86_64', '4f68bce3-e8cd-4db1-96e7-fbcaf984b709'],
    ['aarch64', 'b921b045-1df0-41c3-af44-4c6f280d3fae'],
    ['i686', '44479540-f297-41b2-9af7-d131d5f0458a'],
    ['armv7l', '69dad710-2ce4-4e3c-b16c-21a1d49abed3'],
    ['riscv64', '72ec70a6-cf74-40e6-bd49-4bda08e8f224'],
    ['ppc64le', 'c31c45e6-3f39-412e-80fb-4809c4980599'],
    ['s390x', '5eead9a9-fe09-4a1e-a1d7-520d00531306'],
    ['loongarch64', '77055800-792c-4f94-b39a-98c91b762bb6'],
  ])('gives an %s root the type %s', (architecture, type) => {
    const disk = layoutDisk(sized(planPartitions(config({ Architecture: architecture }))), { architecture });
    expect(disk.partitions[0]?.typeUuid).toBe(type);
  });

  it('derives every UUID from the seed, differently per purpose, or picks them at random', () => {
    const again = layoutDisk(plans, { architecture: 'x86_64', seed: 'test' });
    expect(again.uuid).toBe(layout.uuid);
    expect(again.partitions.map((p) => p.uuid)).toEqual(layout.partitions.map((p) => p.uuid));
    const uuids = [layout.uuid, ...layout.partitions.map((p) => p.uuid)];
    expect(new Set(uuids).size).toBe(uuids.length);
    for (const uuid of uuids) expect(uuid).toMatch(UUID_V4);
    const other = layoutDisk(plans, { architecture: 'x86_64', seed: 'other' });
    expect(other.uuid).not.toBe(layout.uuid);
    const random = [layoutDisk(plans, { architecture: 'x86_64' }), layoutDisk(plans, { architecture: 'x86_64' })];
    expect(random[0]!.uuid).not.toBe(random[1]!.uuid);
    expect(random[0]!.uuid).toMatch(UUID_V4);
    expect(makeUuid('s', 'disk')).toBe(makeUuid('s', 'disk'));
  });
});

describe('sfdiskScript', () => {
  it('writes the table in sectors with names, UUIDs and attributes', () => {
    const plans = sized(planPartitions(config({ RootSize: 2 * MiB, SwapSize: MiB, ReadOnly: true, ImageId: 'img' })));
    const layout = layoutDisk(plans, { architecture: 'aarch64', seed: 'x' });
    const [swap, root] = layout.partitions;
    expect(sfdiskScript(layout)).toBe(
      [
        'label: gpt',
        `label-id: ${layout.uuid}`,
        'unit: sectors',
        'sector-size: 512',
        'first-lba: 2048',
        '',
        `start=2048, size=2048, type=0657fd6d-a4ab-43c4-84e5-0933c84b4f4f, uuid=${swap!.uuid}, name="Swap Partition"`,
        `start=4096, size=4096, type=b921b045-1df0-41c3-af44-4c6f280d3fae, uuid=${root!.uuid}, name="img", attrs="GUID:60"`,
        '',
      ].join('\n'),
    );
  });

  it('lists both attribute bits of a writable root', () => {
    const layout = layoutDisk(sized(planPartitions(config())), { architecture: 'x86_64' });
    expect(sfdiskScript(layout)).toContain('attrs="GUID:59"');
  });
});

describe('checkDiskConfig', () => {
  it('accepts the defaults', () => {
    expect(checkDiskConfig(config())).toEqual([]);
  });

  it('refuses an architecture without a root partition type', () => {
    expect(checkDiskConfig(config({ Architecture: 'vax' }))).toEqual([
      'the Discoverable Partitions Specification has no root partition type for Architecture=vax',
    ]);
    expect(checkDiskConfig(config({ Format: 'plain_squashfs', Architecture: 'vax', ReadOnly: true }))).toEqual([]);
  });

  it('refuses partition names GPT cannot hold or sfdisk cannot quote', () => {
    expect(checkDiskConfig(config({ ImageId: 'a'.repeat(30), ImageVersion: '1.2.3.4.5' }))[0]).toContain('longer than the 36 characters GPT allows');
    expect(checkDiskConfig(config({ ImageId: 'a"b' }))[0]).toContain('contains a quote');
  });

  it('refuses XFS partitions smaller than xfsprogs makes', () => {
    expect(checkDiskConfig(config({ Format: 'gpt_xfs', RootSize: 256 * MiB, HomeSize: 100 * MiB }))).toEqual([
      'HomeSize= is 100 MiB, but xfsprogs makes no XFS smaller than 300 MiB',
      'RootSize= is 256 MiB, but xfsprogs makes no XFS smaller than 300 MiB',
    ]);
  });
});

describe('sizes', () => {
  it('rounds up to whole MiB and prints sizes in binary units', () => {
    expect(alignUp(1)).toBe(MiB);
    expect(alignUp(MiB)).toBe(MiB);
    expect(formatBytes(3 * GiB)).toBe('3 GiB');
    expect(formatBytes(300 * MiB)).toBe('300 MiB');
    expect(formatBytes(1.5 * GiB)).toBe('1.5 GiB');
    expect(formatBytes(512)).toBe('512 bytes');
  });
});
