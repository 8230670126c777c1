/**
 * The whole pipeline makes a disk image: `kiln build` of images/debian-minimal as gpt_ext4 with a
 * /home partition, run with every loop device masked. SHA256SUMS covers the raw file, systemd-dissect
 * finds root and home, and the image mounted by systemd-dissect runs in systemd-nspawn with the
 * post-installation script's mark in it. Without Checksum= the file systems are made in place inside
 * the disk file (no copy); that disk must pass the same checks plus e2fsck of both partitions.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUdev, partitionTable, sh, sha256File, withoutLoopDevices } from './disk-helpers.js';
import { CACHED, KILN, kiln, makeProject, mountsUnder, runAsync, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'unshare', 'sfdisk', 'mkfs.ext4', 'systemd-dissect', 'systemd-nspawn', 'openssl']);

/**
 * kiln with every loop device masked, asynchronously (a build blocks a test worker for minutes
 * otherwise). `cache` is the shared package cache alone, or with the incremental cache too.
 */
async function buildWithoutLoopDevices(project: string, cache: readonly string[], args: readonly string[]): Promise<string> {
  const result = await runAsync(withoutLoopDevices([KILN, ...cache, ...args, 'build']), { cwd: project });
  if (result.status !== 0) throw new Error(`kiln build failed (${result.status}):\n${result.stderr}`);
  return result.stderr;
}

/** systemd-dissect finds the root and the /home partition, both ext4. */
function expectRootAndHome(image: string): string {
  const report = sh(['systemd-dissect', image]);
  expect(report).toMatch(/^rw root .* ext4 +x86-64 /m);
  expect(report).toMatch(/^rw home .* Home Partition +ext4 /m);
  return report;
}

/** The image, mounted by systemd-dissect, runs in systemd-nspawn with the postinst's mark and /home mounted. */
function expectRunsWithHome(project: string, image: string): void {
  const mnt = path.join(project, 'mnt');
  fs.mkdirSync(mnt);
  sh(['systemd-dissect', '--mount', image, mnt]);
  try {
    expect(nspawn(mnt, ['cat', '/etc/issue'])).toMatch(/built by kiln/);
    expect(nspawn(mnt, ['findmnt', '--noheadings', '--output', 'TARGET', '/home']).trim()).toBe('/home');
  } finally {
    sh(['umount', '--recursive', mnt]);
  }
}

describe.skipIf(skip)('kiln build -t gpt_ext4 --root-size=1G --home-size=300M of images/debian-minimal', () => {
  let project: string;
  let stopUdev: () => void = () => undefined;
  let stderr = '';

  beforeAll(async () => {
    project = makeProject('debian-minimal');
    // On the shared cached root, an overlay: /home is copied out of it rather than renamed. A root of
    // 1 GiB rather than the default 3: SHA256SUMS and the check of it read every byte, zeros too.
    stderr = await buildWithoutLoopDevices(project, CACHED, ['-t', 'gpt_ext4', '--root-size=1G', '--home-size=300M']);
    stopUdev = ensureUdev();
  }, 15 * 60_000);

  afterAll(() => {
    stopUdev();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it('writes image.raw, listed in SHA256SUMS with the hash of its bytes, and no workspace left', () => {
    const image = path.join(project, 'image.raw');
    expect(fs.statSync(image).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(path.join(project, 'SHA256SUMS'), 'utf8')).toContain(`${sha256File(image)} *image.raw\n`);
    expect(workspacesIn(project)).toEqual([]);
    expect(stderr).not.toContain('warning');
  });

  it('is a disk systemd-dissect reads, with root and home', () => {
    expect(expectRootAndHome(path.join(project, 'image.raw'))).toContain('ID=debian');
  });

  it('runs in systemd-nspawn from the dissected image, with the post-installation mark', () => {
    expectRunsWithHome(project, path.join(project, 'image.raw'));
  });
});

describe.skipIf(skip)('kiln build -t gpt_ext4 --home-size=300M --checksum=no --base-packages=no: file systems made in place', () => {
  let project: string;
  let stopUdev: () => void = () => undefined;
  let stderr = '';

  beforeAll(async () => {
    project = makeProject('debian-minimal');
    // Without -i: the packages are installed into the tmpfs; minbase (and less) are as many as that takes.
    stderr = await buildWithoutLoopDevices(project, ['--cache', TEST_CACHE], ['-t', 'gpt_ext4', '--home-size=300M', '--checksum=no', '--base-packages=no', '--debug=run']);
    stopUdev = ensureUdev();
  }, 15 * 60_000);

  it('built the tree in a tmpfs of 1.5 times the partitions, and moved /home aside within it', () => {
    // 3 GiB root + 300 MiB home, times 1.5 (this machine has the memory and a kernel >= 6.6).
    expect(stderr).toContain('image tree in memory: tmpfs of 4.9 GiB');
    expect(workspacesIn(project)).toEqual([]);
  });

  afterAll(() => {
    stopUdev();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it('is a valid GPT disk whose ext4 file systems pass e2fsck', () => {
    const image = path.join(project, 'image.raw');
    expect(sh(['sfdisk', '--verify', image])).toContain('No errors detected');
    const table = partitionTable(image);
    expect(table.partitions.map((p) => p.name)).toEqual(['Home Partition', 'Root Partition']);
    for (const partition of table.partitions) {
      const check = spawnSyncStatus(['e2fsck', '-fn', `${image}?offset=${partition.start * 512}`]);
      expect(check.status, check.output).toBe(0);
    }
    expect(fs.statSync(image).mode & 0o777).toBe(0o644);
    expect(fs.existsSync(path.join(project, 'SHA256SUMS'))).toBe(false);
  });

  it('is read by systemd-dissect and runs in systemd-nspawn with /home mounted', () => {
    const image = path.join(project, 'image.raw');
    expectRootAndHome(image);
    expectRunsWithHome(project, image);
  });
});

describe.skipIf(skip)('a disk too small for the tree, built in memory', () => {
  let project: string;

  beforeAll(() => {
    project = makeProject('debian-minimal');
  });

  afterAll(() => {
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it('fails with one line saying the tree cannot fit, and leaves no tmpfs, workspace or output', async () => {
    // RootSize=100M: a 150 MiB tmpfs, which the packages fill before they are all installed. In the
    // host's mount namespace, so that a tmpfs left mounted would show.
    const result = await kiln(['--cache', TEST_CACHE, '-t', 'gpt_ext4', '--root-size=100M', 'build'], { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("kiln: error: the image tree filled kiln's 150 MiB tmpfs (1.5 times the disk's partitions): it cannot fit the disk\n");
    expect(result.stderr).toContain('kiln: hint: raise RootSize=');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(mountsUnder(project)).toEqual([]);
    expect(workspacesIn(project)).toEqual([]);
    expect(fs.existsSync(path.join(project, 'image.raw'))).toBe(false);
  }, 10 * 60_000);
});

function spawnSyncStatus(argv: readonly string[]): { status: number | null; output: string } {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
