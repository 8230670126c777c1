/**
 * Issue 6: incremental builds reuse the cached root exactly when nothing that shaped it changed.
 * The cache holds the shared minimal root (BasePackages=no, no packages) to begin with: the first
 * build, which adds busybox, extends it and stores a root of its own — a bootstrap that stores its
 * root is shown where it is the point (concurrent-builds, all-images). After an mkosi.extra edit the
 * new content is in the image without a new bootstrap; after adding a package the image contains it
 * (mkosi 14 silently left it out); the cached roots themselves are never modified by the builds that
 * use them. A skeleton change makes a new bootstrap: seen starting on a root that holds the new
 * skeleton, then interrupted. The tarball is uncompressed: xz is not what these tests are about.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, KILN, kiln, kilnOk, mountsUnder, processesMentioning, TEST_CACHE, waitFor, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeTree } from './helpers/projects.js';

const ROOTS = 'debian~bookworm/roots';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'tar']);

function fileInTar(tarball: string, member: string): string {
  return execFileSync('tar', ['-xOf', tarball, `./${member}`], { encoding: 'utf8' });
}

describe.skipIf(skip)('incremental builds', () => {
  let dir: string;
  let cache: string;
  /** The shared minimal root's key: made by the first file that needs it, copied in here. */
  let minimal: string;
  let key: string;
  const roots = () => path.join(cache, ROOTS);
  const build = async () => {
    const result = await kiln(['--cache', cache, '-i', '-f', 'build'], { cwd: dir });
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    return result.stderr;
  };

  beforeAll(async () => {
    // A cache of its own, whose roots only this file's builds make; packages come from the shared one.
    cache = mkdtempSync(path.join(os.tmpdir(), 'kiln-incremental-cache-'));
    execFileSync('sh', ['-c', `mkdir -p "${cache}/debian~bookworm" && cp -al "${TEST_CACHE}/debian~bookworm/packages" "${cache}/debian~bookworm/" 2>/dev/null || true`]);
    const seed = minimalProject({ format: 'tar', output: 'CompressOutput=no' });
    try {
      const { stderr } = await kilnOk([...CACHED, 'build'], { cwd: seed });
      minimal = /(?:Using|Saving) the cached root ([0-9a-f]{16})/.exec(stderr)?.[1] ?? '';
      if (!minimal) throw new Error(`no cached root named in:\n${stderr}`);
      mkdirSync(roots(), { recursive: true });
      // A real copy, not links: nothing this file does may reach the shared root.
      execFileSync('cp', ['-a', '--reflink=auto', path.join(TEST_CACHE, ROOTS, minimal), path.join(roots(), minimal)]);
    } finally {
      rmSync(seed, { recursive: true, force: true });
    }
    dir = minimalProject({ format: 'tar', output: 'CompressOutput=no', content: 'Packages=busybox' });
    writeTree(path.join(dir, 'mkosi.extra'), { 'etc/extra-mark': 'first\n' });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it('extends the minimal root with the package, without a bootstrap, and stores the root', async () => {
    const log = await build();
    // One progress line for the stage, with its time.
    expect(log).toMatch(new RegExp(`^‣ Extending the cached root ${minimal} with busybox \\(\\d+(\\.\\d)?s\\)$`, 'm'));
    expect(log).not.toContain('Installing packages');
    key = /Saving the cached root ([0-9a-f]{16})/.exec(log)?.[1] ?? '';
    expect(readdirSync(roots()).filter((name) => /^[0-9a-f]{16}$/.test(name)).sort()).toEqual([key, minimal].sort());
    expect(fileInTar(path.join(dir, 'image.tar'), 'var/lib/dpkg/status')).toMatch(/^Package: busybox$/m);
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('first\n');
    // apt-get's indexes and binary caches (~165 MB) went again: the image holds what a root that
    // mmdebstrap made holds, whether its root was bootstrapped or extended.
    const members = execFileSync('tar', ['-tf', path.join(dir, 'image.tar')], { encoding: 'utf8', maxBuffer: 64 * 1024 ** 2 }).split('\n');
    const lists = members.filter((name) => /^\.\/var\/lib\/apt\/lists\/[^/]+\/?$/.test(name)).map((name) => path.basename(name));
    expect(lists.sort()).toEqual(readdirSync(path.join(roots(), minimal, 'root/var/lib/apt/lists')).sort());
    expect(members.filter((name) => /^\.\/var\/cache\/apt\/[^/]+\.bin$/.test(name))).toEqual([]);
  });

  it('after an mkosi.extra edit, reuses the root and has the new content', async () => {
    writeTree(path.join(dir, 'mkosi.extra'), { 'etc/extra-mark': 'second\n' });
    const log = await build();
    expect(log).toContain(`Using the cached root ${key}`);
    expect(log).not.toMatch(/Installing packages|Extending/);
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('second\n');
  });

  it('never modifies the cached roots', () => {
    expect(existsSync(path.join(roots(), key, 'root/etc/extra-mark'))).toBe(false);
    expect(existsSync(path.join(roots(), key, 'root/usr/bin/busybox'))).toBe(true);
    // The one it was extended from is still the minimal root.
    expect(existsSync(path.join(roots(), minimal, 'root/usr/bin/busybox'))).toBe(false);
    expect(existsSync(path.join(roots(), minimal, 'root/usr/bin/dpkg'))).toBe(true);
  });

  it('after adding a package, extends the root and the image contains the package', async () => {
    writeTree(path.join(dir, 'mkosi.default.d'), { '10-more.conf': '[Content]\nPackages=less\n' });
    const log = await build();
    expect(log).toContain(`Extending the cached root ${key} with less`);
    expect(log).not.toContain('Installing packages');
    expect(fileInTar(path.join(dir, 'image.tar'), 'var/lib/dpkg/status')).toMatch(/^Package: less$/m);
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('second\n');
  });

  it('after a skeleton change, bootstraps again', async () => {
    writeTree(path.join(dir, 'mkosi.skeleton'), { 'etc/skeleton-mark': 'new\n' });
    // A reused or extended root never runs mmdebstrap: seeing it start on a root that holds the new
    // skeleton is the proof. What follows would be a whole bootstrap: interrupted.
    const child = spawn(KILN, ['--cache', cache, '-i', '-f', 'build'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    let ended = false;
    void done.then(() => (ended = true));
    let bootstrapping = false;
    await waitFor('mmdebstrap or the end of the build', () => ended || (bootstrapping = processesMentioning(dir).some((p) => p.includes('mmdebstrap'))));
    const skeletonInRoot = workspacesIn(dir).some((workspace) => existsSync(path.join(dir, workspace, 'root/etc/skeleton-mark')));
    child.kill('SIGTERM');
    const status = await done;
    expect(log).not.toMatch(/(Using|Extending) the cached root/);
    expect(bootstrapping, log).toBe(true);
    expect(skeletonInRoot).toBe(true);
    expect(status, log).toBe(143);
  });

  it('leaves no workspace, mount or half-made entry behind', () => {
    expect(workspacesIn(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(readdirSync(roots()).filter((name) => name.startsWith('.new-'))).toEqual([]);
  });
});
