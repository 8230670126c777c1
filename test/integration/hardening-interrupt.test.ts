/**
 * Issue 7: a build interrupted at any stage (SIGINT, SIGTERM) ends its child processes, undoes its
 * mounts, removes its workspace, leaves no partial output and the previous output untouched, exits
 * with 130/143 — and the next build succeeds. (Two builds sharing one cache directory, one with
 * mmdebstrap and one with debootstrap, are concurrent-builds.test.ts's first Debian round.)
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, KILN, kiln, kilnOk, mountsUnder, processesIn, processesMentioning, TEST_CACHE, waitFor, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'xz']);

interface Running {
  readonly done: Promise<{ status: number | null; stderr: string }>;
  signal(name: NodeJS.Signals): void;
}

/** Builds still running when a test ends (it failed before interrupting them): stopped after it. */
const running = new Set<Running>();

/**
 * Interrupts at the bootstrap build without the incremental cache; the later stages build on the
 * shared cached root (-i), so they are reached in seconds and an overlay mount must be undone too.
 */
function startBuild(dir: string, args: readonly string[]): Running {
  const child = spawn(KILN, ['--cache', TEST_CACHE, ...args, 'build'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const build: Running = {
    done: new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr }))),
    signal: (name) => child.kill(name),
  };
  running.add(build);
  void build.done.then(() => running.delete(build));
  return build;
}

afterEach(async () => {
  for (const build of running) {
    build.signal('SIGTERM');
    await build.done;
  }
});

/** A file inside the build's root, wherever its workspace is. */
function inWorkspace(dir: string, relative: string): boolean {
  return workspacesIn(dir).some((workspace) => existsSync(path.join(dir, workspace, relative)));
}

describe.skipIf(skip)('interrupted builds', () => {
  let dir: string;
  const previous = 'the previous, good build\n';

  beforeAll(() => {
    dir = minimalProject({ format: 'tar' });
    // The previous outputs that an interrupted `-f` build must not touch.
    writeFileSync(path.join(dir, 'image.tar.xz'), previous);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function expectNothingLeft(result: { status: number | null; stderr: string }, signal: 'SIGINT' | 'SIGTERM'): void {
    expect(result.stderr).toContain(`kiln: error: interrupted by ${signal}\n`);
    expect(result.status).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(workspacesIn(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(readFileSync(path.join(dir, 'image.tar.xz'), 'utf8')).toBe(previous);
    expect(readdirSync(dir).filter((name) => !name.startsWith('mkosi.'))).toEqual(['image.tar.xz']);
  }

  it('while packages are installed (SIGINT)', async () => {
    const build = startBuild(dir, ['-f']);
    await waitFor('mmdebstrap', () => processesMentioning(dir).some((p) => p.includes('mmdebstrap')));
    build.signal('SIGINT');
    expectNothingLeft(await build.done, 'SIGINT');
  });

  it('while mkosi.postinst runs in the container, with --debug=run (SIGTERM)', async () => {
    // Longer than the test may take: the build ends because kiln ends the script, not because it
    // finished. --debug=run puts the script's output on kiln's terminal; it must be ended all the same.
    writeScript(dir, 'mkosi.postinst', '#!/bin/sh\ntouch /postinst-started\nsleep 1000\n');
    const build = startBuild(dir, ['-f', '-i', '--debug=run']);
    await waitFor('the post-installation script', () => inWorkspace(dir, 'root/postinst-started'));
    build.signal('SIGTERM');
    expectNothingLeft(await build.done, 'SIGTERM');
    rmSync(path.join(dir, 'mkosi.postinst'));
  });

  it('while mkosi.finalize runs on the host (SIGINT)', async () => {
    writeScript(dir, 'mkosi.finalize', '#!/bin/sh\ntouch "$BUILDROOT/finalize-started"\nsleep 300\n');
    const build = startBuild(dir, ['-f', '-i']);
    await waitFor('the finalize script', () => inWorkspace(dir, 'root/finalize-started'));
    build.signal('SIGINT');
    expectNothingLeft(await build.done, 'SIGINT');
    rmSync(path.join(dir, 'mkosi.finalize'));
  });

  it('while the tarball is written (SIGTERM)', async () => {
    const build = startBuild(dir, ['-f', '-i']);
    await waitFor('the tarball', () => inWorkspace(dir, 'staging/image.tar.xz') && statSafe(dir) > 0);
    build.signal('SIGTERM');
    expectNothingLeft(await build.done, 'SIGTERM');
  });

  it('when its terminal goes away (SIGHUP, writes failing with EIO), even one without a size', async () => {
    // script(1) gives kiln a pseudo-terminal of no size; when script is ended, the terminal hangs
    // up under the running build — once the build is well under way (its bootstrap runs).
    const child = spawn('script', ['-qc', `${KILN} --cache ${TEST_CACHE} -f build`, '/dev/null'], { cwd: dir, stdio: 'ignore' });
    const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
    let ended = false;
    void done.then(() => (ended = true));
    await waitFor('mmdebstrap', () => ended || processesMentioning(dir).some((p) => p.includes('mmdebstrap')));
    const hungUpWhileRunning = !ended;
    child.kill('SIGTERM');
    await done;
    expect(hungUpWhileRunning).toBe(true);
    // This kiln by its working directory: the other files' builds run kiln -f build too.
    await waitFor('kiln to finish cleaning up', () => processesMentioning(dir).length === 0 && processesIn(dir).length === 0, 60_000);
    expect(workspacesIn(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(readFileSync(path.join(dir, 'image.tar.xz'), 'utf8')).toBe(previous);
  });

  it('killed with SIGKILL, leaves a workspace that the next build removes, mounts first', async () => {
    const build = startBuild(dir, ['-f']);
    await waitFor('mmdebstrap', () => processesMentioning(dir).some((p) => p.includes('mmdebstrap')));
    build.signal('SIGKILL');
    await build.done;
    expect(workspacesIn(dir)).toHaveLength(1);
    // Nothing else is checked here: the next test builds in the same place and must succeed.
  });

  it('is followed by a build that succeeds', async () => {
    const { stderr } = await kilnOk([...CACHED, '-f', 'build'], { cwd: dir });
    expect(stderr).toMatch(/kiln: warning: removing \S+\.kiln-build-\w+, the workspace of a build that was killed/);
    expect(mountsUnder(dir)).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(readFileSync(path.join(dir, 'image.tar.xz')).subarray(0, 6)).toEqual(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
    expect(workspacesIn(dir)).toEqual([]);
  });
});

/** Size of the tarball being written, so the interrupt lands in the middle of it. */
function statSafe(dir: string): number {
  for (const workspace of workspacesIn(dir)) {
    try {
      return statSync(path.join(dir, workspace, 'staging/image.tar.xz')).size;
    } catch {
      // not there yet
    }
  }
  return 0;
}
