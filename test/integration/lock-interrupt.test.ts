/**
 * Issue 21: a build interrupted while it holds the package-cache lock keeps the lock until its
 * children are gone and its mounts and workspace are undone. The first build here is stopped while
 * its bootstrapper runs under the lock — a stand-in for debootstrap that, like a dpkg finishing a
 * package, takes seconds to end after SIGTERM. A second build sharing the cache waits for the lock
 * to bootstrap (its stand-in notes the time it runs, then fails: the test is about the lock, not
 * about a second image); that time must come after the first build's bootstrapper ended and after
 * the last moment the test saw any of the first build's mounts or processes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KILN, mountsUnder, processesMentioning, waitFor, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'flock', 'mkfs.ext4']);

interface Build {
  readonly done: Promise<{ status: number | null; stderr: string }>;
  readonly pid: number;
}

/** Builds still running when the test ends (it failed on the way): stopped after it. */
const running = new Set<Build>();

function startBuild(dir: string, cache: string, env: NodeJS.ProcessEnv = {}): Build {
  const child = spawn(KILN, ['--cache', cache, 'build'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const build = { pid: child.pid!, done: new Promise<{ status: number | null; stderr: string }>((resolve) => child.on('close', (status) => resolve({ status, stderr }))) };
  running.add(build);
  void build.done.then(() => running.delete(build));
  return build;
}

afterEach(async () => {
  for (const build of running) {
    process.kill(build.pid, 'SIGTERM');
    await build.done;
  }
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds since the epoch, as `date +%s.%N` wrote them. */
function timeIn(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

describe.skipIf(skip)('the package-cache lock of an interrupted build', () => {
  let first: string;
  let second: string;
  let cache: string;
  let stubs: string;
  let secondStubs: string;
  let log: string;

  beforeAll(() => {
    // A cache of its own: no other test's build can take the lock in between.
    cache = mkdtempSync(path.join(os.tmpdir(), 'kiln-lock-cache-'));
    log = mkdtempSync(path.join(os.tmpdir(), 'kiln-lock-log-'));
    stubs = mkdtempSync(path.join(os.tmpdir(), 'kiln-lock-stubs-'));
    writeScript(
      stubs,
      'debootstrap',
      [
        '#!/bin/sh',
        '# debootstrap that takes 3 seconds to end after SIGTERM, like a dpkg finishing a package.',
        `trap 'sleep 3; date +%s.%N > ${log}/first-child-exited; exit 1' TERM`,
        `date +%s.%N > ${log}/first-started`,
        'sleep 600 &',
        'wait',
        '',
      ].join('\n'),
    );
    secondStubs = mkdtempSync(path.join(os.tmpdir(), 'kiln-lock-stubs-'));
    writeScript(secondStubs, 'debootstrap', `#!/bin/sh\ndate +%s.%N > ${log}/second-got-the-lock\necho 'stand-in: done' >&2\nexit 1\n`);
    // gpt_ext4 with a fixed size: the first build's tree is in a tmpfs mounted in its workspace.
    first = minimalProject({ format: 'gpt_ext4', content: 'Bootstrapper=debootstrap' });
    execFileSync('sh', ['-c', `printf '[Partitions]\\nRootSize=1G\\n' >> "${first}/mkosi.default"`]);
    second = minimalProject({ content: 'Bootstrapper=debootstrap' });
  });

  afterAll(() => {
    for (const dir of [first, second, cache, stubs, secondStubs, log]) rmSync(dir, { recursive: true, force: true });
  });

  it('goes to a waiting build only after its children are gone and its mounts released', async () => {
    const one = startBuild(first, cache, { PATH: `${stubs}:${process.env.PATH}` });
    await waitFor('the first build to hold the lock', () => readdirSync(log).includes('first-started'));
    expect(mountsUnder(first)).not.toEqual([]);
    const two = startBuild(second, cache, { PATH: `${secondStubs}:${process.env.PATH}` });
    const lockFile = path.join(cache, 'debian~bookworm/packages.lock');
    // The second build is waiting when a second flock on the package cache is there.
    await waitFor('the second build to wait for the lock', () => processesMentioning(`flock --exclusive ${lockFile}`).length >= 2);

    process.kill(one.pid, 'SIGTERM');
    // The last moment any mount or process of the first build was seen, until it is all gone.
    let lastSeenBusy = Date.now() / 1000;
    const busy = (): boolean => mountsUnder(first).length > 0 || processesMentioning(first).length > 0 || workspacesIn(first).length > 0;
    while (busy()) {
      lastSeenBusy = Date.now() / 1000;
      await sleep(20);
    }

    const [firstResult, secondResult] = await Promise.all([one.done, two.done]);
    expect(firstResult.stderr).toContain('kiln: error: interrupted by SIGTERM');
    expect(firstResult.status).toBe(143);
    // The second build ran its bootstrapper (under the lock) and failed with it, as its stand-in does.
    expect(secondResult.stderr).toMatch(/kiln: error: Installing debian \S+ with debootstrap: debootstrap .* exited with code 1/);
    expect(secondResult.stderr).not.toContain('internal error');

    const gotTheLock = timeIn(path.join(log, 'second-got-the-lock'));
    expect(gotTheLock).toBeGreaterThan(timeIn(path.join(log, 'first-child-exited')));
    expect(gotTheLock).toBeGreaterThan(lastSeenBusy);
    expect(mountsUnder(first)).toEqual([]);
    expect(processesMentioning(first)).toEqual([]);
    expect(workspacesIn(second)).toEqual([]);
  });
});
