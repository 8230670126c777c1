/**
 * Two `kiln build` processes started at the same moment on one cache directory, each with other
 * packages, several times over: both succeed, each image holds exactly its own packages, and the
 * package cache holds only whole packages. For Debian (one round of three builds: two with the
 * incremental cache and the same key, at once, and one with debootstrap; each runs a script that
 * sees the package cache), Fedora (dnf) and Arch (pacman). A build killed while it downloads leaves
 * the cache usable for the next ones: that Debian round.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archPackages, fedoraPackages, missingFixtureInput, stubPackage } from '../fixtures/repos/packages.js';
import { buildPacmanRepo } from '../fixtures/repos/pacman-repo.js';
import { buildRpmRepo } from '../fixtures/repos/rpm-repo.js';
import { KILN, kiln, TEST_CACHE, whyNotRoot, workspacesIn, type KilnResult } from './helpers/kiln.js';

const skip = whyNotRoot(['mmdebstrap', 'debootstrap', 'systemd-nspawn', 'dnf', 'pacman', 'rpmbuild', 'createrepo_c', 'repo-add', 'dpkg-deb', 'flock']) ?? missingFixtureInput();

function project(dir: string, lines: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'mkosi.default'), `${lines.join('\n')}\n`);
  return dir;
}

/** Both builds at the same moment; both must succeed. */
async function together(cache: string, projects: readonly string[]): Promise<KilnResult[]> {
  const results = await Promise.all(projects.map((dir) => kiln(['--cache', cache, '-f', 'build'], { cwd: dir })));
  results.forEach((result, k) => expect(result.status, `${projects[k]}:\n${result.stderr}`).toBe(0));
  return results;
}

function dpkgPackages(root: string): string[] {
  return execFileSync('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${Package}\n'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/**
 * Every .deb of the cache is a whole package, and no temporary name is left. apt in the container
 * (debootstrap's builds) has the cache as its archive directory: its lock file and an empty partial/.
 */
function checkDebCache(packages: string): void {
  const names = readdirSync(packages).filter((name) => name !== 'lock' && name !== 'partial');
  expect(names.filter((name) => !name.endsWith('.deb'))).toEqual([]);
  if (existsSync(path.join(packages, 'partial'))) expect(readdirSync(path.join(packages, 'partial'))).toEqual([]);
  for (const name of names) execFileSync('dpkg-deb', ['--info', path.join(packages, name)], { stdio: 'ignore' });
}

describe.skipIf(skip)('two kiln build processes on one cache directory', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'kiln-concurrent-'));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('Debian (mmdebstrap and debootstrap, and the incremental cache)', () => {
    let cache: string;
    const debian = (name: string, packages: string, bootstrapper = 'mmdebstrap') =>
      project(path.join(work, name), [
        '[Distribution]', 'Distribution=debian', 'Release=bookworm', `Bootstrapper=${bootstrapper}`,
        '[Output]', 'Format=directory', '[Content]', 'BasePackages=no', `Packages=${packages}`,
      ]);
    const packagesDir = () => path.join(cache, 'debian~bookworm/packages');

    beforeAll(() => {
      // The shared test cache without the libraries and the packages: those the builds download.
      cache = path.join(work, 'debian-cache');
      mkdirSync(packagesDir(), { recursive: true });
      const from = path.join(TEST_CACHE, 'debian~bookworm/packages');
      if (!existsSync(from)) return;
      for (const name of readdirSync(from).filter((n) => n.endsWith('.deb') && !/^(lib|busybox_|cpio_|less_)/.test(n))) linkSync(path.join(from, name), path.join(packagesDir(), name));
    });

    /** Until the package cache's lock is held by a build (it is downloading), or `stop` says to give up. */
    async function untilLockHeld(stop: () => boolean = () => false): Promise<void> {
      const lock = `${packagesDir()}.lock`;
      for (let waited = 0; waited < 300_000 && !stop(); waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (existsSync(lock) && spawnStatus(['flock', '--nonblock', lock, 'true']) !== 0) return;
      }
    }

    // Killed first: the builds of the next round start from the cache the kill left.
    it('a build killed while it downloads leaves only whole packages in the cache', async () => {
      const dir = debian('killed', 'busybox,less');
      const child = spawn(KILN, ['--cache', cache, 'build'], { cwd: dir, detached: true, stdio: 'ignore' });
      await untilLockHeld();
      // As the OOM killer or a power cut would: kiln and everything it started, at once.
      killTree(child.pid!);
      await new Promise((resolve) => child.once('exit', resolve));
      checkDebCache(packagesDir());
    });

    /**
     * One round for the next two tests, from the cache the kill left (missing what the builds need):
     * the killed build again and one of the same packages, both with the incremental cache, at the
     * same moment; and a debootstrap build, started once one of them holds the package cache's lock,
     * so that it has to wait for it (started first, it would hold the lock for its whole bootstrap).
     * Each runs a script that must see the package cache.
     */
    const round = { killed: 'killed', same: 'same-packages', debootstrap: 'debootstrap' } as const;
    const wanted: Record<string, string[]> = { killed: ['busybox', 'less'], 'same-packages': ['busybox', 'less'], debootstrap: ['cpio'] };
    const results: Record<string, KilnResult> = {};
    const dirOf = (name: string) => path.join(work, name);

    function expectExactly(name: string, others: readonly string[]): void {
      expect(results[name]?.status, `${name}:\n${results[name]?.stderr}`).toBe(0);
      const installed = dpkgPackages(path.join(dirOf(name), 'image'));
      expect(installed).toEqual(expect.arrayContaining([...wanted[name]!, 'libc6']));
      for (const other of others.filter((p) => !wanted[name]!.includes(p))) expect(installed).not.toContain(other);
      expect(readFileSync(path.join(dirOf(name), 'image/cache-listing'), 'utf8')).toMatch(/\.deb$/m);
      // The killed build's leftover workspace too: removed by the build after it.
      expect(workspacesIn(dirOf(name))).toEqual([]);
    }

    it('after it, from the cache it left, the killed build again with mmdebstrap and one with debootstrap, each running a script that sees the cache: both succeed with exactly their packages', async () => {
      debian(round.same, wanted[round.same]!.join(','));
      debian(round.debootstrap, wanted[round.debootstrap]!.join(','), 'debootstrap');
      for (const name of Object.values(round)) writeFileSync(path.join(dirOf(name), 'mkosi.postinst'), '#!/bin/sh\nls /var/cache/apt/archives > /cache-listing\n', { mode: 0o755 });
      const build = (name: string, extra: readonly string[]) => kiln(['--cache', cache, '-f', ...extra, 'build'], { cwd: dirOf(name) });
      const incremental = [round.killed, round.same].map((name) => build(name, ['-i']).then((result) => (results[name] = result)));
      let ended = false;
      void Promise.all(incremental).then(() => (ended = true));
      await untilLockHeld(() => ended);
      const debootstrap = build(round.debootstrap, []).then((result) => (results[round.debootstrap] = result));
      await Promise.all([...incremental, debootstrap]);
      expectExactly(round.killed, wanted[round.debootstrap]!);
      expectExactly(round.debootstrap, wanted[round.killed]!);
      checkDebCache(packagesDir());
    });

    it('with the incremental cache, two builds of the same packages at once: both succeed with exactly their packages, one made the root', () => {
      expectExactly(round.killed, wanted[round.debootstrap]!);
      expectExactly(round.same, wanted[round.debootstrap]!);
      const made = [round.killed, round.same].filter((name) => /Saving the cached root/.test(results[name]!.stderr));
      expect(made).toHaveLength(1);
    });
  });

  describe.each(['fedora', 'arch'] as const)('%s from the local repository', (distribution) => {
    let cache: string;
    const projects: string[] = [];

    beforeAll(async () => {
      const packages = [...(distribution === 'fedora' ? fedoraPackages() : archPackages()), stubPackage('kiln-test-one'), stubPackage('kiln-test-two')];
      const repoDir = path.join(work, `${distribution}-repo`);
      const url = distribution === 'fedora' ? (await buildRpmRepo(repoDir, packages)).url : (await buildPacmanRepo(repoDir, packages)).url;
      cache = path.join(work, `${distribution}-cache`);
      for (const name of ['one', 'two']) {
        projects.push(
          project(path.join(work, `${distribution}-${name}`), [
            '[Distribution]', `Distribution=${distribution}`, ...(distribution === 'fedora' ? ['Release=38'] : []), `LocalMirror=${url}`, 'RepositoryKeyCheck=no',
            '[Output]', 'Format=directory', '[Content]', `Packages=kiln-test-${name}`, 'ManifestFormat=json',
          ]),
        );
      }
    });

    it.each([1, 2, 3])('round %i: both succeed with exactly their packages', async () => {
      await together(cache, projects);
      projects.forEach((dir, k) => {
        const manifest = JSON.parse(readFileSync(path.join(dir, 'image.manifest'), 'utf8')) as { packages: { name: string }[] };
        const names = manifest.packages.map((p) => p.name);
        expect(names).toContain(k === 0 ? 'kiln-test-one' : 'kiln-test-two');
        expect(names).not.toContain(k === 0 ? 'kiln-test-two' : 'kiln-test-one');
      });
      const cached = readdirSync(cache, { recursive: true }).map(String);
      expect(cached.filter((name) => /(^|\/)\.[^/]*\.(rpm|zst)\.|\.part$/.test(name))).toEqual([]);
    });
  });
});

/** SIGKILL to a process and all its descendants (they run in process groups of their own). */
function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // gone
    }
  }
  const all: number[] = [];
  const walk = (at: number): void => {
    all.push(at);
    for (const child of children.get(at) ?? []) walk(child);
  };
  walk(pid);
  for (const target of all) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function spawnStatus(argv: readonly string[]): number | null {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    return 0;
  } catch (error) {
    return (error as { status: number | null }).status;
  }
}
