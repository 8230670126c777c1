/**
 * The whole pipeline makes a disk image: `kiln build` of images/debian-minimal as gpt_ext4 with a
 * /home partition, run with every loop device masked. SHA256SUMS covers the raw file, systemd-dissect
 * finds root and home, and the image mounted by systemd-dissect runs in systemd-nspawn with the
 * post-installation script's mark in it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUdev, sh, sha256File, withoutLoopDevices } from './disk-helpers.js';
import { KILN, makeProject, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'unshare', 'sfdisk', 'mkfs.ext4', 'systemd-dissect', 'systemd-nspawn']);

describe.skipIf(skip)('kiln build -t gpt_ext4 --home-size=300M of images/debian-minimal', () => {
  let project: string;
  let stopUdev: () => void = () => undefined;
  let stderr = '';

  beforeAll(() => {
    project = makeProject('debian-minimal');
    const [command, ...args] = withoutLoopDevices([KILN, '--cache', TEST_CACHE, '-t', 'gpt_ext4', '--home-size=300M', 'build']);
    const result = spawnSync(command!, args, { cwd: project, encoding: 'utf8' });
    stderr = result.stderr;
    if (result.status !== 0) throw new Error(`kiln build failed:\n${result.stderr}`);
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
    const report = sh(['systemd-dissect', path.join(project, 'image.raw')]);
    expect(report).toMatch(/^rw root .* ext4 +x86-64 /m);
    expect(report).toMatch(/^rw home .* Home Partition +ext4 /m);
    expect(report).toContain('ID=debian');
  });

  it('runs in systemd-nspawn from the dissected image, with the post-installation mark', () => {
    const mnt = path.join(project, 'mnt');
    fs.mkdirSync(mnt);
    sh(['systemd-dissect', '--mount', path.join(project, 'image.raw'), mnt]);
    try {
      expect(nspawn(mnt, ['cat', '/etc/issue'])).toMatch(/built by kiln/);
      expect(nspawn(mnt, ['findmnt', '--noheadings', '--output', 'TARGET', '/home']).trim()).toBe('/home');
    } finally {
      sh(['umount', '--recursive', mnt]);
    }
  });
});
