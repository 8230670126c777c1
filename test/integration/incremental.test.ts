/**
 * Issue 6: incremental builds reuse the cached root exactly when nothing that shaped it changed.
 * After an mkosi.extra edit the new content is in the image without a new bootstrap; after adding a
 * package the image contains it (mkosi 14 silently left it out); the cached root itself is never
 * modified by the builds that use it. A skeleton change makes a new bootstrap: seen starting on a root
 * that holds the new skeleton, then interrupted (the rest of that build is the first one's again).
 * The tarball is uncompressed: xz is not what these tests are about.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN, kiln, mountsUnder, processesMentioning, waitFor, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeTree } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'tar']);

function fileInTar(tarball: string, member: string): string {
  return execFileSync('tar', ['-xOf', tarball, `./${member}`], { encoding: 'utf8' });
}

describe.skipIf(skip)('incremental builds', () => {
  let dir: string;
  let cache: string;
  const roots = () => path.join(cache, 'debian~bookworm/roots');
  const build = async () => {
    const result = await kiln(['--cache', cache, '-i', '-f', 'build'], { cwd: dir });
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    return result.stderr;
  };

  beforeAll(() => {
    // A cache of its own, so that the first build is a real miss; packages come from the shared one.
    cache = mkdtempSync(path.join(os.tmpdir(), 'kiln-incremental-cache-'));
    const shared = process.env.KILN_TEST_CACHE ?? '/var/tmp/kiln-test-cache';
    execFileSync('sh', ['-c', `mkdir -p "${cache}/debian~bookworm" && cp -al "${shared}/debian~bookworm/packages" "${cache}/debian~bookworm/" 2>/dev/null || true`]);
    dir = minimalProject({ format: 'tar', output: 'CompressOutput=no', content: 'Packages=busybox' });
    writeTree(path.join(dir, 'mkosi.extra'), { 'etc/extra-mark': 'first\n' });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it('bootstraps once and stores the root', async () => {
    const log = await build();
    // One progress line for the stage, with its time.
    expect(log).toMatch(/^‣ Installing packages \(\d+(\.\d)?s\)$/m);
    expect(log).toMatch(/Saving the cached root [0-9a-f]{16}/);
    expect(readdirSync(roots()).filter((name) => /^[0-9a-f]{16}$/.test(name))).toHaveLength(1);
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('first\n');
  });

  it('after an mkosi.extra edit, reuses the root and has the new content', async () => {
    writeTree(path.join(dir, 'mkosi.extra'), { 'etc/extra-mark': 'second\n' });
    const log = await build();
    expect(log).toMatch(/Using the cached root [0-9a-f]{16}/);
    expect(log).not.toContain('Installing packages');
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('second\n');
  });

  it('never modifies the cached root', () => {
    const [key] = readdirSync(roots()).filter((name) => /^[0-9a-f]{16}$/.test(name));
    expect(existsSync(path.join(roots(), key!, 'root/etc/extra-mark'))).toBe(false);
    expect(existsSync(path.join(roots(), key!, 'root/usr/bin/busybox'))).toBe(true);
  });

  it('after adding a package, extends the root and the image contains the package', async () => {
    writeTree(path.join(dir, 'mkosi.default.d'), { '10-more.conf': '[Content]\nPackages=less\n' });
    const log = await build();
    expect(log).toMatch(/Extending the cached root [0-9a-f]{16} with less/);
    expect(log).not.toContain('Installing packages');
    expect(fileInTar(path.join(dir, 'image.tar'), 'var/lib/dpkg/status')).toMatch(/^Package: less$/m);
    expect(fileInTar(path.join(dir, 'image.tar'), 'etc/extra-mark')).toBe('second\n');
  });

  it('after a skeleton change, bootstraps again', async () => {
    writeTree(path.join(dir, 'mkosi.skeleton'), { 'etc/skeleton-mark': 'new\n' });
    // A reused or extended root never runs mmdebstrap: seeing it start on a root that holds the new
    // skeleton is the proof. What follows would be the first test's bootstrap once more: interrupted.
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
