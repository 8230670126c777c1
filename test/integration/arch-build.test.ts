/**
 * Issue 5's proof for Arch Linux: `kiln build` of directory and tar images from a local pacman
 * repository (LocalMirror=file://…), started with systemd-nspawn: the package runs, the extra file
 * is there and mkosi.postinst left its mark from inside the container.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archPackages, missingFixtureInput, stubPackage } from '../fixtures/repos/packages.js';
import { buildPacmanRepo, missingPacmanRepoTools, type PacmanRepo } from '../fixtures/repos/pacman-repo.js';
import { EXTRA_CONTENT, EXTRA_FILE, makeLocalMirrorProject, POSTINST_MARK } from '../fixtures/repos/project.js';
import { KILN, kiln, kilnOk, mountsUnder, processesMentioning, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const fixtureProblem = missingPacmanRepoTools() ?? missingFixtureInput();
const reason = whyNotRoot(['pacman', 'unshare', 'repo-add', 'bsdtar', 'systemd-nspawn', SYSTEMD_IMPORT, 'xz'], fixtureProblem);

describe.skipIf(reason)('kiln build, Distribution=arch from a local repository', () => {
  let workDir: string;
  let repo: PacmanRepo;
  const cleanups: string[] = [];

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-arch-build-'));
    repo = await buildPacmanRepo(path.join(workDir, 'repo'), archPackages());
  });

  afterAll(async () => {
    for (const dir of cleanups) await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(workDir, { recursive: true, force: true });
  });

  async function build(format: 'directory' | 'tar'): Promise<string> {
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: repo.url, format });
    cleanups.push(project);
    const started = performance.now();
    await kilnOk(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    console.log(`kiln build (arch, ${format}) took ${Math.round(performance.now() - started)} ms`);
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
    expect(manifest.packages.map((p) => `${p.type}:${p.name}`)).toEqual(['pkg:base', 'pkg:kiln-test-busybox', 'pkg:kiln-test-hello']);
  });

  it('builds a tar image that systemd-import accepts and systemd-nspawn starts', async () => {
    const project = await build('tar');
    const imported = importTar(path.join(project, 'image.tar.xz'), 'kiln-arch');
    cleanups.push(path.dirname(imported));
    checkImage(imported);
  });

  it('fails with one clear line when a package does not exist, leaving nothing behind', async () => {
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: repo.url, format: 'directory', packages: ['kiln-test-hello', 'kiln-test-nope'] });
    cleanups.push(project);
    const result = await kiln(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('kiln: error: Installing packages with pacman: target not found: kiln-test-nope');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
    expect(mountsUnder(project)).toEqual([]);
  });

  it('names the Debian package to install when pacman is missing, before doing anything', async () => {
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: repo.url, format: 'directory' });
    cleanups.push(project);
    const program = spawnSync('sh', ['-c', 'command -v pacman'], { encoding: 'utf8' }).stdout.trim();
    // pacman hidden from this one command by a private mount namespace.
    const result = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', program, KILN, 'build'], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kiln: error: missing host tools: pacman');
    expect(result.stderr).toContain('apt-get install pacman-package-manager');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('stops pacman and its scriptlets when interrupted, leaving nothing behind', async () => {
    // A package whose post_install scriptlet would run for a minute.
    const slow = { ...stubPackage('kiln-test-slow'), postInstall: 'sleep 60' };
    const slowRepo = await buildPacmanRepo(path.join(workDir, 'slow'), [...archPackages(), slow]);
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: slowRepo.url, format: 'directory', packages: ['kiln-test-slow'] });
    cleanups.push(project);
    const child = spawn(KILN, ['--cache', path.join(workDir, 'cache-slow'), 'build'], { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    // Both at once: the scriptlet's sleep, and pacman waiting for it.
    const pacmanInScriptlet = (): boolean =>
      processesMentioning('sleep 60').length > 0 && processesMentioning(project).some((p) => p.includes('pacman --config'));
    while (!pacmanInScriptlet() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(processesMentioning('sleep 60').length, stderr).toBeGreaterThan(0);
    expect(processesMentioning(project).some((p) => p.includes('pacman --config')), stderr).toBe(true);
    const interrupted = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    // The namespace's processes ignore SIGTERM; kiln's kill after its grace period ends them all.
    expect(Date.now() - interrupted).toBeLessThan(15_000);
    expect(stderr).toContain('kiln: error: interrupted by SIGTERM');
    expect(processesMentioning(project)).toEqual([]);
    expect(processesMentioning('sleep 60').filter((p) => !p.includes('vitest'))).toEqual([]);
    expect(mountsUnder(project)).toEqual([]);
    expect(workspacesIn(project)).toEqual([]);
    expect(existsSync(path.join(project, 'image'))).toBe(false);
  }, 60_000);

  it('checks LocalMirror= before building and names the file it looked for', async () => {
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: `${repo.url}/nope`, format: 'directory' });
    cleanups.push(project);
    const result = await kiln(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`kiln: error: LocalMirror=: ${repo.directory}/nope/core.db does not exist`);
    expect(result.stderr).not.toContain('Installing packages');
    expect(workspacesIn(project)).toEqual([]);
  });
});
