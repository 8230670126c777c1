import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { OUTPUTS } from '../../../src/outputs/index.js';
import { unavailable } from '../../skip.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'http://127.0.0.1/debian', kvm: false };

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-disk-output-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(text: string): Config {
  fs.writeFileSync(path.join(dir, 'mkosi.default'), `[Distribution]\nDistribution=debian\n${text}`);
  return loadConfig({ directory: dir, commandLine: [], host: HOST, env: {} }).config;
}

describe('disk output formats', () => {
  it('are registered under every disk format name', () => {
    for (const name of ['gpt_ext4', 'gpt_xfs', 'gpt_btrfs', 'gpt_squashfs', 'plain_squashfs', 'subvolume'] as const) {
      expect(OUTPUTS[name]?.name).toBe(name);
    }
  });

  it('name the host tools each configuration runs', () => {
    const tools = (text: string): readonly string[] => {
      const c = config(text);
      return OUTPUTS[c.Format]!.requiredTools(c);
    };
    expect(tools('[Output]\nFormat=gpt_ext4\n')).toEqual(['mkfs.ext4', 'debugfs', 'sfdisk']);
    expect(tools('[Output]\nFormat=gpt_xfs\nQCow2=yes\nCompressOutput=xz\n[Partitions]\nSwapSize=1G\n')).toEqual([
      'mkswap',
      'mkfs.xfs',
      'xfs_db',
      'getfattr',
      'sfdisk',
      'qemu-img',
      'xz',
    ]);
    expect(tools('[Output]\nFormat=plain_squashfs\n')).toEqual(['mksquashfs']);
    expect(tools('[Output]\nFormat=gpt_squashfs\nMksquashfs=/opt/my-mksquashfs -b 1M\n')).toEqual(['/opt/my-mksquashfs', 'sfdisk']);
    expect(tools('[Output]\nFormat=subvolume\n')).toEqual(['btrfs', 'cp']);
  });

  it('refuse before the build what a disk cannot be', async () => {
    const c = config('Architecture=vax\n[Output]\nFormat=gpt_ext4\nCompress=lz4\nImageId="quoted"\n');
    const check = OUTPUTS.gpt_ext4!.check!(c, dir);
    await expect(check).rejects.toThrow('the Discoverable Partitions Specification has no root partition type for Architecture=vax');
    await expect(check).rejects.toThrow('gpt_ext4 images are compressed as a whole, which lz4 cannot do');
    await expect(OUTPUTS.gpt_ext4!.check!(config('[Output]\nFormat=gpt_ext4\n'), dir)).resolves.toBeUndefined();
  });

  it('refuse a subvolume outside btrfs, naming the file system', async () => {
    const type = (await fs.promises.statfs(dir)).type;
    const c = config('[Output]\nFormat=subvolume\n');
    if (unavailable(type === 0x9123683e ? `needs a temporary directory (${os.tmpdir()}) that is not on btrfs` : undefined)) return;
    await expect(OUTPUTS.subvolume!.check!(c, path.join(dir, 'not', 'yet'))).rejects.toThrow(
      new RegExp(`^Format=subvolume needs btrfs for the output directory, but ${dir} is on `),
    );
  });
});
