/**
 * Issue 5's proof for Fedora: `kiln build` of directory and tar images from a local RPM
 * repository (LocalMirror=file://…), started with systemd-nspawn: the package runs, the extra file
 * is there and mkosi.postinst left its mark from inside the container.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fedoraPackages, missingFixtureInput } from '../fixtures/repos/packages.js';
import { EXTRA_CONTENT, EXTRA_FILE, makeLocalMirrorProject, POSTINST_MARK, type ProjectOptions } from '../fixtures/repos/project.js';
import { buildRpmRepo, type RpmRepo } from '../fixtures/repos/rpm-repo.js';
import { KILN, kiln, kilnOk, mountsUnder, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const fixtureProblem = missingFixtureInput();
const reason = whyNotRoot(['dnf', 'rpm', 'unshare', 'rpmbuild', 'createrepo_c', 'systemd-nspawn', SYSTEMD_IMPORT, 'xz'], fixtureProblem);

describe.skipIf(reason)('kiln build, Distribution=fedora from a local repository', () => {
  let workDir: string;
  let repo: RpmRepo;
  const cleanups: string[] = [];

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-fedora-build-'));
    repo = await buildRpmRepo(path.join(workDir, 'repo'), fedoraPackages());
  });

  afterAll(async () => {
    for (const dir of cleanups) await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(workDir, { recursive: true, force: true });
  });

  const fedoraProject = (options: Partial<ProjectOptions>): Promise<string> =>
    makeLocalMirrorProject({ distribution: 'fedora', mirror: repo.url, format: 'directory', distributionLines: ['Release=38'], ...options });

  async function build(format: 'directory' | 'tar'): Promise<string> {
    const project = await fedoraProject({ format });
    cleanups.push(project);
    const started = performance.now();
    await kilnOk(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    console.log(`kiln build (fedora, ${format}) took ${Math.round(performance.now() - started)} ms`);
    expect(workspacesIn(project)).toEqual([]);
    expect(mountsUnder(project)).toEqual([]);
    return project;
  }

  function checkImage(root: string): void {
    expect(nspawn(root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello\n');
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', EXTRA_FILE])).toBe(EXTRA_CONTENT);
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', POSTINST_MARK])).toBe('final in systemd-nspawn: kiln-test-hello 1.0\n');
  }

  it('builds a directory image that systemd-nspawn starts', async () => {
    const project = await build('directory');
    checkImage(path.join(project, 'image'));
    const manifest = JSON.parse(readFileSync(path.join(project, 'image.manifest'), 'utf8')) as { packages: { type: string; name: string }[] };
    expect(manifest.packages.map((p) => `${p.type}:${p.name}`)).toEqual(['rpm:dnf', 'rpm:kiln-test-busybox', 'rpm:kiln-test-hello', 'rpm:systemd', 'rpm:util-linux']);
  });

  it('builds a tar image that systemd-import accepts and systemd-nspawn starts', async () => {
    const project = await build('tar');
    const imported = importTar(path.join(project, 'image.tar.xz'), 'kiln-fedora');
    cleanups.push(path.dirname(imported));
    checkImage(imported);
  });

  it('fails with one clear line when a package does not exist, leaving nothing behind', async () => {
    const project = await fedoraProject({ packages: ['kiln-test-hello', 'kiln-test-nope'] });
    cleanups.push(project);
    const result = await kiln(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('kiln: error: Installing packages with dnf: Unable to find a match: kiln-test-nope');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
    expect(mountsUnder(project)).toEqual([]);
  });

  it('removes RemovePackages= at the end of the build, running their scriptlets in the image', async () => {
    const project = await fedoraProject({});
    cleanups.push(project);
    await fs.appendFile(path.join(project, 'mkosi.default'), 'RemovePackages=kiln-test-hello\n');
    await kilnOk(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    const root = path.join(project, 'image');
    expect(existsSync(path.join(root, 'usr/bin/hello'))).toBe(false);
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-removed'])).toBe('removed\n');
    // The post-installation script ran before the removal, with the package still there.
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', POSTINST_MARK])).toBe('final in systemd-nspawn: kiln-test-hello 1.0\n');
  });

  it('names the Debian package to install when dnf is missing, before doing anything', async () => {
    const project = await fedoraProject({});
    cleanups.push(project);
    const program = spawnSync('sh', ['-c', 'command -v dnf'], { encoding: 'utf8' }).stdout.trim();
    // dnf hidden from this one command by a private mount namespace.
    const result = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', program, KILN, 'build'], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kiln: error: missing host tools: dnf');
    expect(result.stderr).toContain('apt-get install dnf');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('checks LocalMirror= before building and names the file it looked for', async () => {
    const project = await fedoraProject({ mirror: `${repo.url}/nope` });
    cleanups.push(project);
    const result = await kiln(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`kiln: error: LocalMirror=: ${repo.directory}/nope/repodata/repomd.xml does not exist`);
    expect(result.stderr).not.toContain('Installing packages');
    expect(workspacesIn(project)).toEqual([]);
  });
});
