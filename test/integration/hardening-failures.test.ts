/**
 * Issue 7: every failure a user can cause ends in one clear line (no stack), a non-zero exit, and
 * nothing left behind: no output, no workspace, no mount, no process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CACHED, KILN, kiln, mountsUnder, processesMentioning, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'unshare', 'setpriv']);

const projects: string[] = [];
afterEach(() => {
  for (const project of projects.splice(0)) rmSync(project, { recursive: true, force: true });
});

function project(options: Parameters<typeof minimalProject>[0] = {}): string {
  const dir = minimalProject(options);
  projects.push(dir);
  return dir;
}

/** Runs a shell command line (for namespaces and other users) and collects its output. */
function sh(script: string, cwd: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

function expectCleanFailure(result: { status: number | null; stderr: string }, dir: string, message: string): void {
  expect(result.stderr).toContain(`kiln: error: ${message}\n`);
  expect(result.status).toBe(1);
  expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
  expect(existsSync(path.join(dir, 'image'))).toBe(false);
  expect(workspacesIn(dir)).toEqual([]);
  expect(mountsUnder(dir)).toEqual([]);
  expect(processesMentioning(dir)).toEqual([]);
}

describe.skipIf(skip)('failing builds', () => {
  it('a failing mkosi.finalize names the script and its exit code', async () => {
    const dir = project();
    writeScript(dir, 'mkosi.finalize', '#!/bin/sh\necho "finalize: cannot sign the kernel" >&2\nexit 5\n');
    const result = await kiln([...CACHED, 'build'], { cwd: dir });
    expectCleanFailure(result, dir, 'mkosi.finalize failed with exit code 5');
    expect(result.stderr).toContain('│ finalize: cannot sign the kernel');
  });

  it('a script whose interpreter the image lacks is refused before it runs', async () => {
    const dir = project();
    writeScript(dir, 'mkosi.postinst', '#!/usr/bin/python3\nprint("hello")\n');
    const result = await kiln([...CACHED, 'build'], { cwd: dir });
    expectCleanFailure(result, dir, 'mkosi.postinst needs /usr/bin/python3, which the image does not have');
  });

  it('an unknown package is named', async () => {
    const dir = project({ content: 'Packages=kiln-no-such-package' });
    const result = await kiln(['--cache', TEST_CACHE, 'build'], { cwd: dir });
    expectCleanFailure(result, dir, 'unknown package: kiln-no-such-package');
  });

  it('an unreachable mirror is named with its URL before anything is built', async () => {
    const dir = project();
    const started = Date.now();
    const result = await kiln(['--mirror', 'http://127.0.0.1:1/debian', 'build'], { cwd: dir });
    expectCleanFailure(result, dir, 'Mirror=: cannot reach http://127.0.0.1:1/debian/dists/bookworm/Release (ECONNREFUSED)');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a release the mirror does not carry is named', async () => {
    const dir = project();
    const result = await kiln(['--release', 'kilnnosuchrelease', 'build'], { cwd: dir });
    expect(result.stderr).toMatch(/kiln: error: Mirror=: \S+\/dists\/kilnnosuchrelease\/Release does not exist \(HTTP 404\)\n/);
    expect(result.status).toBe(1);
    expect(workspacesIn(dir)).toEqual([]);
  });

  it('kiln refuses to build without root', async () => {
    const dir = project();
    const result = await sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${KILN} build`, dir);
    expectCleanFailure(result, dir, 'kiln build must run as root (it runs debootstrap, systemd-nspawn and mkfs)');
  });

  it('an output directory on a read-only file system is refused up front', async () => {
    const dir = project({ output: 'OutputDirectory=out' });
    mkdirSync(path.join(dir, 'out/debian~bookworm'), { recursive: true });
    const result = await sh(
      `unshare -m sh -c 'mount --bind out out && mount -o remount,bind,ro out && ${KILN} --cache ${TEST_CACHE} build'`,
      dir,
    );
    expectCleanFailure(result, dir, 'out/debian~bookworm: the output directory is not writable (EROFS)');
  });

  it('a full disk ends the build with "no space left on device" and removes the workspace', async () => {
    const dir = project({ output: 'OutputDirectory=out' });
    mkdirSync(path.join(dir, 'out'));
    // A 64 MiB file system cannot hold a Debian root: the build must run out of space and clean up.
    const result = await sh(
      `unshare -m sh -c 'mount -t tmpfs -o size=64m kiln-full out && ${KILN} --cache ${TEST_CACHE} build; status=$?; ls -A out/debian~bookworm >&2; exit $status'`,
      dir,
    );
    expect(result.stderr).toMatch(/kiln: error: .*no space left on device/);
    expect(result.status).toBe(1);
    expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(result.stderr).not.toContain('.kiln-build-');
    expect(readdirSync(path.join(dir, 'out'))).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('an existing output is kept without --force', async () => {
    const dir = project();
    mkdirSync(path.join(dir, 'image'));
    writeFileSync(path.join(dir, 'image/keep-me'), 'previous build\n');
    const result = await kiln(['build'], { cwd: dir });
    expect(result.stderr).toContain('kiln: error: image already exists\nkiln: hint: use -f (--force) to replace the outputs\n');
    expect(result.status).toBe(1);
    expect(existsSync(path.join(dir, 'image/keep-me'))).toBe(true);
  });
});
