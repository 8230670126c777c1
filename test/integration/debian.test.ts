/**
 * Issue 3's proof: `kiln build` turns images/debian-minimal into a tarball that systemd-import accepts,
 * and the imported image, started with systemd-nspawn, holds the skeleton file, the extra file, the
 * post-installation script's mark (written from inside the container), the package and the hostname.
 * A failing mkosi.postinst stops the build cleanly.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kiln, kilnOk, makeProject, mountsUnder, processesMentioning, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', SYSTEMD_IMPORT, 'xz']);

describe.skipIf(skip)('Debian image from images/debian-minimal', () => {
  let project: string;
  let imported: string;

  beforeAll(async () => {
    project = makeProject('debian-minimal');
    await kilnOk([...CACHED, 'build'], { cwd: project });
    imported = importTar(path.join(project, 'image.tar.xz'));
  });

  afterAll(() => {
    rmSync(project, { recursive: true, force: true });
    if (imported) rmSync(path.dirname(imported), { recursive: true, force: true });
  });

  it('is imported by systemd-import with the OS tree at the top', () => {
    expect(existsSync(path.join(imported, 'usr/lib/os-release'))).toBe(true);
    expect(readFileSync(path.join(imported, 'usr/lib/os-release'), 'utf8')).toMatch(/^ID=debian$/m);
  });

  it('has the skeleton file, copied before packages', () => {
    expect(nspawn(imported, ['cat', '/etc/apt/apt.conf.d/90no-recommends'])).toContain('APT::Install-Recommends "false";');
  });

  it('has the extra file', () => {
    expect(nspawn(imported, ['cat', '/etc/motd'])).toContain('built by kiln from images/debian-minimal');
  });

  it('ran mkosi.postinst inside the container', () => {
    const version = nspawn(imported, ['cat', '/etc/debian_version']).trim();
    expect(nspawn(imported, ['cat', '/etc/issue'])).toBe(`Debian GNU/Linux ${version}, built by kiln\n`);
  });

  it('has the package from Packages= and the base packages', () => {
    const status = nspawn(imported, ['dpkg-query', '-W', '-f', '${Package} ${Status}\\n', 'less', 'systemd']);
    expect(status).toContain('less install ok installed');
    expect(status).toContain('systemd install ok installed');
  });

  it('has the hostname and an uninitialized machine ID', () => {
    expect(nspawn(imported, ['cat', '/etc/hostname'])).toBe('debian-minimal\n');
    expect(nspawn(imported, ['cat', '/etc/machine-id'])).toBe('uninitialized\n');
  });

  it('writes artifacts that are not world-writable, with matching SHA256SUMS and the .nspawn beside them', () => {
    for (const name of ['image.tar.xz', 'image.nspawn', 'SHA256SUMS', 'image.tar.xz.manifest']) {
      expect(statSync(path.join(project, name)).mode & 0o777, name).toBe(0o644);
    }
    const sums = readFileSync(path.join(project, 'SHA256SUMS'), 'utf8');
    for (const name of ['image.tar.xz', 'image.nspawn']) {
      const digest = createHash('sha256').update(readFileSync(path.join(project, name))).digest('hex');
      expect(sums).toContain(`${digest} *${name}\n`);
    }
    expect(workspacesIn(project)).toEqual([]);
  });

  it('keeps the existing output unless --force is given', async () => {
    const result = await kiln([...CACHED, 'build'], { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kiln: error: image.tar.xz, SHA256SUMS, image.nspawn, image.tar.xz.manifest already exist');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe.skipIf(skip)('a failing mkosi.postinst', () => {
  it('reports the script and its exit code and leaves nothing behind', async () => {
    const project = makeProject('debian-minimal');
    try {
      writeFileSync(path.join(project, 'mkosi.postinst'), '#!/bin/sh\necho "setting things up"\necho "something broke" >&2\nexit 3\n', { mode: 0o755 });
      const result = await kiln([...CACHED, '--format', 'directory', 'build'], { cwd: project });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('kiln: error: mkosi.postinst failed with exit code 3\n');
      expect(result.stderr).toContain('│ something broke');
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(path.join(project, 'image'))).toBe(false);
      expect(existsSync(path.join(project, 'SHA256SUMS'))).toBe(false);
      expect(workspacesIn(project)).toEqual([]);
      expect(mountsUnder(project)).toEqual([]);
      expect(processesMentioning(project)).toEqual([]);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
