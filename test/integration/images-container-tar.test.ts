/**
 * images/container-tar, the tarball for machinectl import-tar: SHA256SUMS checks out with
 * sha256sum, systemd's own importer takes the tarball, and the imported tree is the image the
 * definition describes (systemd-networkd enabled by its mkosi.postinst, root without a password,
 * image.nspawn beside it with its own network).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kilnOk, makeProject, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const reason = whyNotRoot(['systemd-nspawn', SYSTEMD_IMPORT, 'xz', 'sha256sum']);

describe.skipIf(reason)('images/container-tar', () => {
  let project: string;
  let imported: string;

  beforeAll(async () => {
    project = makeProject('container-tar');
    const started = performance.now();
    await kilnOk([...CACHED, 'build'], { cwd: project });
    console.log(`kiln build of images/container-tar took ${Math.round(performance.now() - started)} ms`);
    imported = importTar(path.join(project, 'image.tar.xz'), 'kiln-container-tar');
  });

  afterAll(() => {
    if (imported) rmSync(path.dirname(imported), { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('writes image.tar.xz, image.nspawn and a manifest that SHA256SUMS covers, readable by all and writable by none', () => {
    expect(execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: project, encoding: 'utf8' })).toBe('image.tar.xz: OK\nimage.nspawn: OK\n');
    for (const file of ['image.tar.xz', 'image.nspawn', 'image.tar.xz.manifest', 'SHA256SUMS']) {
      expect(statSync(path.join(project, file)).mode & 0o777, file).toBe(0o644);
    }
    expect(readFileSync(path.join(project, 'image.nspawn'), 'utf8')).toContain('VirtualEthernet=yes');
    expect(workspacesIn(project)).toEqual([]);
  });

  it('imports with systemd-import as a Debian system with systemd-networkd enabled and a passwordless root', () => {
    expect(nspawn(imported, ['sh', '-c', '. /etc/os-release && echo $ID'])).toBe('debian\n');
    expect(spawnSync('systemctl', [`--root=${imported}`, 'is-enabled', 'systemd-networkd.service'], { encoding: 'utf8' }).stdout.trim()).toBe('enabled');
    expect(readFileSync(path.join(imported, 'etc/passwd'), 'utf8')).toMatch(/^root::0:0:/m);
    expect(nspawn(imported, ['dpkg-query', '-W', '-f', '${Status}', 'less'])).toBe('install ok installed');
  });

  it('lists in its manifest exactly the packages dpkg has in the image', () => {
    const manifest = JSON.parse(readFileSync(path.join(project, 'image.tar.xz.manifest'), 'utf8')) as { packages: { name: string }[] };
    const dpkg = nspawn(imported, ['dpkg-query', '-W', '-f', '${Package}\\n']).trim().split('\n').sort();
    expect(manifest.packages.map((p) => p.name).sort()).toEqual(dpkg);
  });
});
