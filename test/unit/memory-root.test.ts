import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/config/host.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { availableMemory, memoryRootPlan, tmpfsKeepsUserXattrs } from '../../src/memory-root.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const base = mkdtempSync(path.join(os.tmpdir(), 'kiln-memory-root-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const GiB = 1024 ** 3;
const meminfo = (availableGiB: number): string => `MemTotal:       25165824 kB\nMemFree:         1000000 kB\nMemAvailable:   ${availableGiB * 1024 * 1024} kB\n`;
const KERNEL = '6.18.44-fc-v657';

let count = 0;
function config(text: string): Config {
  const dir = path.join(base, String(++count));
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'mkosi.default'), `[Distribution]\nDistribution=debian\n${text}`);
  return loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir }).config;
}

describe('memoryRootPlan', () => {
  it('puts the tree of a gpt_ext4 disk into a tmpfs half as large again as its partitions', () => {
    const plan = memoryRootPlan(config('[Output]\nFormat=gpt_ext4\n'), meminfo(20), KERNEL);
    expect(plan).toEqual({ bytes: 4.5 * GiB });
    const withHome = memoryRootPlan(config('[Output]\nFormat=gpt_xfs\n[Partitions]\nRootSize=2G\nHomeSize=1G\nSwapSize=4G\n'), meminfo(20), KERNEL);
    // Swap holds no part of the tree.
    expect(withHome).toEqual({ bytes: 4.5 * GiB });
  });

  it('keeps the tree on disk when the output does not bound its size', () => {
    for (const format of ['directory', 'tar', 'subvolume', 'gpt_squashfs', 'plain_squashfs']) {
      expect(memoryRootPlan(config(`[Output]\nFormat=${format}\n`), meminfo(20), KERNEL)).toEqual({ why: `Format=${format} does not bound the tree's size` });
    }
  });

  it('keeps the tree where WorkspaceDirectory= or Incremental= say', () => {
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_ext4\nWorkspaceDirectory=/var/tmp\n'), meminfo(20), KERNEL)).toEqual({ why: 'WorkspaceDirectory= is set' });
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_ext4\nIncremental=yes\n'), meminfo(20), KERNEL)).toEqual({ why: 'Incremental= keeps the root on disk' });
  });

  it('keeps the tree on disk without memory for the worst case and more', () => {
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_btrfs\n'), meminfo(6), KERNEL)).toEqual({ why: '3 GiB of partitions need 6.5 GiB of available memory' });
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_btrfs\n'), meminfo(7), KERNEL)).toEqual({ bytes: 4.5 * GiB });
  });

  it('counts the trees of the other builds of kiln --all as taken', () => {
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_ext4\n'), meminfo(10), KERNEL, 4.5 * GiB)).toEqual({
      why: '3 GiB of partitions need 6.5 GiB of available memory (besides 4.5 GiB for the other builds\' trees)',
    });
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_ext4\n'), meminfo(11), KERNEL, 4.5 * GiB)).toEqual({ bytes: 4.5 * GiB });
  });

  it('keeps the tree on disk where tmpfs drops user.* extended attributes', () => {
    expect(memoryRootPlan(config('[Output]\nFormat=gpt_ext4\n'), meminfo(20), '6.1.0-28-amd64')).toEqual({ why: 'tmpfs of Linux 6.1.0-28-amd64 drops user.* extended attributes' });
  });
});

describe('the host facts it reads', () => {
  it('reads MemAvailable in bytes', () => {
    expect(availableMemory(meminfo(3))).toBe(3 * GiB);
    expect(availableMemory('MemTotal: 1 kB\n')).toBeUndefined();
  });

  it('knows which kernels keep user.* xattrs on tmpfs', () => {
    expect(tmpfsKeepsUserXattrs('6.6.0')).toBe(true);
    expect(tmpfsKeepsUserXattrs('6.5.13-1')).toBe(false);
    expect(tmpfsKeepsUserXattrs('7.0.1')).toBe(true);
    expect(tmpfsKeepsUserXattrs('5.10.0-30-amd64')).toBe(false);
  });
});
