/**
 * images/disk-raw, the GPT disk for machinectl import-raw: sfdisk verifies the partition table,
 * systemd-dissect finds a discoverable ext4 root partition with Debian in it, systemd's own importer
 * takes the file as machinectl import-raw does (byte for byte), and the dissected image runs in
 * systemd-nspawn with the definition's extra file.
 */
import { readFileSync, rmSync, existsSync, mkdtempSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUdev, sh, sha256File } from './disk-helpers.js';
import { CACHED, kilnOk, makeProject, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const reason = whyNotRoot(['sfdisk', 'mkfs.ext4', 'systemd-dissect', 'systemd-nspawn', '/lib/systemd/systemd-udevd', SYSTEMD_IMPORT]);

describe.skipIf(reason)('images/disk-raw', () => {
  let project: string;
  let image: string;
  let stopUdev: () => void = () => undefined;
  const cleanups: string[] = [];

  beforeAll(async () => {
    project = makeProject('disk-raw');
    const started = performance.now();
    await kilnOk([...CACHED, 'build'], { cwd: project });
    console.log(`kiln build of images/disk-raw (gpt_ext4) took ${Math.round(performance.now() - started)} ms`);
    image = path.join(project, 'image.raw');
    stopUdev = ensureUdev();
  });

  afterAll(() => {
    stopUdev();
    for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('writes image.raw with a GPT that sfdisk verifies, covered by SHA256SUMS', () => {
    expect(sh(['sfdisk', '--verify', image])).toMatch(/^No errors detected\.$/m);
    expect(readFileSync(path.join(project, 'SHA256SUMS'), 'utf8')).toContain(`${sha256File(image)} *image.raw\n`);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('is a disk systemd-dissect reads: an ext4 root for this architecture, with Debian in it', () => {
    const report = sh(['systemd-dissect', image]);
    expect(report).toMatch(/^rw root .* ext4 +x86-64 /m);
    expect(report).toContain('ID=debian');
    const out = mkdtempSync(path.join(os.tmpdir(), 'kiln-disk-raw-'));
    cleanups.push(out);
    sh(['systemd-dissect', '--copy-from', image, '/etc/motd', path.join(out, 'motd')]);
    expect(readFileSync(path.join(out, 'motd'), 'utf8')).toContain('built by kiln from images/disk-raw');
  });

  it('is imported by systemd-import raw, as machinectl import-raw does, byte for byte', () => {
    const imageRoot = mkdtempSync(path.join(os.tmpdir(), 'kiln-import-raw-'));
    cleanups.push(imageRoot);
    sh([SYSTEMD_IMPORT, `--image-root=${imageRoot}`, 'raw', image, 'kiln-disk-raw']);
    const importedFile = path.join(imageRoot, 'kiln-disk-raw.raw');
    expect(existsSync(importedFile)).toBe(true);
    expect(sha256File(importedFile)).toBe(sha256File(image));
  });

  it('runs in systemd-nspawn from the dissected image', () => {
    const mnt = path.join(project, 'mnt');
    mkdirSync(mnt);
    sh(['systemd-dissect', '--mount', image, mnt]);
    try {
      expect(nspawn(mnt, ['cat', '/etc/hostname'])).toBe('disk-raw\n');
      expect(nspawn(mnt, ['dpkg-query', '-W', '-f', '${Status}', 'less'])).toBe('install ok installed');
    } finally {
      sh(['umount', '--recursive', mnt]);
    }
  });
});
