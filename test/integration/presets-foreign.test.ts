/**
 * arch-base and fedora-minimal, the presets that need a mirror from the user. No Arch or Fedora
 * mirror is reachable here, so each is built from a local repository made by the test fixtures and
 * given as LocalMirror= on the command line (RepositoryKeyCheck=no: the fixtures are unsigned). The
 * fixtures hold the presets' whole package lists (arch-base: base; fedora-minimal: systemd,
 * util-linux, dnf — the base packages), as stubs over a static busybox: what is proven is that the
 * presets resolve, ask for exactly those packages, build and import; not what Arch's or Fedora's
 * real packages contain. Without Mirror= each takes mkosi 14's default (Arch's mirror, Fedora's
 * metalink), which is not reachable here.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archPackages, fedoraPackages, missingFixtureInput } from '../fixtures/repos/packages.js';
import { buildPacmanRepo, missingPacmanRepoTools } from '../fixtures/repos/pacman-repo.js';
import { buildRpmRepo } from '../fixtures/repos/rpm-repo.js';
import { kilnOk, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const archReason = whyNotRoot(['pacman', 'unshare', 'repo-add', 'bsdtar', 'systemd-nspawn', SYSTEMD_IMPORT, 'xz'], missingPacmanRepoTools() ?? missingFixtureInput());
const fedoraReason = whyNotRoot(['dnf', 'rpm', 'unshare', 'rpmbuild', 'createrepo_c', 'systemd-nspawn', SYSTEMD_IMPORT, 'xz'], missingFixtureInput());

let workDir: string;
beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-preset-foreign-'));
});
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

interface Manifest {
  readonly packages: { readonly type: string; readonly name: string }[];
}

async function buildPreset(preset: string, mirror: string): Promise<{ dir: string; root: string; manifest: Manifest }> {
  const dir = await fs.mkdtemp(path.join(workDir, `${preset}-`));
  const args = ['--cache', path.join(workDir, 'cache'), '--preset', preset, `--local-mirror=${mirror}`, '--repository-key-check=no', 'build'];
  const started = performance.now();
  const result = await kilnOk(args, { cwd: dir });
  console.log(`kiln build --preset ${preset} (local repository) took ${Math.round(performance.now() - started)} ms`);
  // An explicit preset: no word about the default one.
  expect(result.stderr).not.toContain('kiln uses its');
  expect(workspacesIn(dir)).toEqual([]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'image.tar.xz.manifest'), 'utf8')) as Manifest;
  const root = importTar(path.join(dir, 'image.tar.xz'), `kiln-${preset}`);
  return { dir, root, manifest };
}

describe.skipIf(archReason)('the arch-base preset', () => {
  it('builds from a local repository given as LocalMirror=, and imports', async () => {
    const repo = await buildPacmanRepo(path.join(workDir, 'arch-repo'), archPackages());
    const { root, manifest } = await buildPreset('arch-base', repo.url);
    expect(manifest.packages.map((p) => `${p.type}:${p.name}`)).toEqual(['pkg:base', 'pkg:kiln-test-busybox']);
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', '/etc/os-release'])).toContain('ID=kiln-test');
    await fs.rm(path.dirname(root), { recursive: true, force: true });
  });

  it("takes mkosi 14's default mirror when none is given", async () => {
    const dir = await fs.mkdtemp(path.join(workDir, 'arch-base-summary-'));
    const result = await kilnOk(['--preset', 'arch-base', 'summary', '--json'], { cwd: dir });
    expect(JSON.parse(result.stdout).Mirror).toBe('https://geo.mirror.pkgbuild.com');
  });
});

describe.skipIf(fedoraReason)('the fedora-minimal preset', () => {
  it('builds from a local repository given as LocalMirror=, and imports', async () => {
    const repo = await buildRpmRepo(path.join(workDir, 'fedora-repo'), fedoraPackages());
    const { root, manifest } = await buildPreset('fedora-minimal', repo.url);
    expect(manifest.packages.map((p) => p.name).sort()).toEqual(['dnf', 'kiln-test-busybox', 'systemd', 'util-linux']);
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', '/etc/os-release'])).toContain('ID=kiln-test');
    await fs.rm(path.dirname(root), { recursive: true, force: true });
  });

  it("has no default Mirror=, as in mkosi 14: it installs from Fedora's metalinks", async () => {
    const dir = await fs.mkdtemp(path.join(workDir, 'fedora-minimal-summary-'));
    const result = await kilnOk(['--preset', 'fedora-minimal', 'summary', '--json'], { cwd: dir });
    expect(JSON.parse(result.stdout).Mirror).toBeNull();
  });
});
