/**
 * images/service-container, built as a user would copy it (debootstrap as the bootstrapper, the
 * service and systemd-networkd enabled and root's password set by its mkosi.postinst), then booted
 * with systemd-nspawn -b --network-veth until systemd reports the boot finished: running, with no
 * failed unit; the example service answers on port 8080 inside the container (its own loopback);
 * networkd manages host0. Then powered off: nspawn exits 0 and leaves no process or link behind.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootContainer, failedUnits, hostLinksOf, type BootedContainer } from './helpers/boot.js';
import { KILN, kilnOk, makeProject, processesMentioning, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';

const reason = whyNotRoot(['debootstrap', 'systemd-nspawn', 'nsenter', 'ip', 'python3']);
const PASSWORD = 'service-test-password';

describe.skipIf(reason)('images/service-container', () => {
  let project: string;
  let root: string;
  let stderr = '';

  beforeAll(async () => {
    project = makeProject('service-container');
    const started = performance.now();
    // Environment=ROOT_PASSWORD in its mkosi.default passes this through to mkosi.postinst. Without
    // -i: the test is about debootstrap, which a cached root would skip.
    ({ stderr } = await kilnOk(['--cache', TEST_CACHE, '--debug=run', 'build'], { cwd: project, env: { ROOT_PASSWORD: PASSWORD } }));
    console.log(`kiln build of images/service-container (debootstrap) took ${Math.round(performance.now() - started)} ms`);
    root = path.join(project, 'image');
  });

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('was bootstrapped by debootstrap and left nothing behind', () => {
    expect(stderr).not.toMatch(/^kiln: warning/m);
    expect(workspacesIn(project)).toEqual([]);
    // --debug=run shows every command kiln ran.
    expect(stderr).toMatch(/^\s*(\$ )?debootstrap /m);
    expect(stderr).not.toMatch(/^\s*(\$ )?mmdebstrap /m);
    // The value of Environment=ROOT_PASSWORD reached the script, but no logged command line.
    expect(stderr).toContain('--setenv=ROOT_PASSWORD');
    expect(stderr).not.toContain(PASSWORD);
    expect(readFileSync(path.join(project, 'image.manifest'), 'utf8')).toContain('"busybox"');
    expect(readFileSync(path.join(project, 'image.nspawn'), 'utf8')).toContain('VirtualEthernet=yes');
  });

  it('has the service and systemd-networkd enabled, and root\'s password set, by mkosi.postinst', () => {
    for (const unit of ['kiln-web.service', 'systemd-networkd.service']) {
      expect(spawnSync('systemctl', [`--root=${root}`, 'is-enabled', unit], { encoding: 'utf8' }).stdout.trim(), unit).toBe('enabled');
    }
    const hash = readFileSync(path.join(root, 'etc/shadow'), 'utf8').split('\n').find((line) => line.startsWith('root:'))!.split(':')[1]!;
    const script = 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])';
    expect(execFileSync('python3', ['-W', 'ignore', '-c', script, PASSWORD, hash], { encoding: 'utf8' }).trim()).toBe('True');
    expect(execFileSync('python3', ['-W', 'ignore', '-c', script, 'kiln', hash], { encoding: 'utf8' }).trim()).toBe('False');
  });

  describe('booted with systemd-nspawn -b --network-veth', () => {
    let container: BootedContainer;
    let powered: number | null = null;

    beforeAll(async () => {
      const started = performance.now();
      container = await bootContainer(root, { veth: true });
      console.log(`booted images/service-container to "${container.state}" in ${Math.round(performance.now() - started)} ms`);
    });

    afterAll(async () => {
      if (container && powered === null) await container.poweroff().catch(() => undefined);
    });

    it('reaches running, with no failed unit', () => {
      expect(container.state, container.output()).toBe('running');
      expect(failedUnits(container)).toEqual([]);
    });

    it('runs the example service, which answers on port 8080', async () => {
      expect(container.exec(['systemctl', 'is-active', 'kiln-web.service']).stdout).toBe('active\n');
      // Inside the container, on its own loopback; the service may still be binding its port.
      let page = '';
      for (let attempt = 0; attempt < 20 && !page.includes('Hello'); attempt++) {
        page = container.exec(['busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']).stdout;
        if (!page.includes('Hello')) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(page).toContain('Hello from the kiln service container.');
    });

    it('has systemd-networkd managing host0, its end of the veth link', () => {
      expect(container.exec(['networkctl', 'status', 'host0', '--no-pager']).stdout).toMatch(/Network File: \/(usr\/)?lib\/systemd\/network\/80-container-host0\.network/);
      expect(hostLinksOf(container.machine)).toHaveLength(1);
    });

    it('powers off cleanly and leaves no process or link behind', async () => {
      powered = await container.poweroff();
      expect(powered).toBe(0);
      expect(processesMentioning(root)).toEqual([]);
      expect(hostLinksOf(container.machine)).toEqual([]);
    });
  });

  describe('kiln boot', () => {
    it('boots the built image with systemd-nspawn --boot until it is powered off', async () => {
      const child = spawn(KILN, ['boot'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
      // kiln → systemd-nspawn → the container's systemd.
      const deadline = Date.now() + 90_000;
      let init: number | undefined;
      let state = '';
      while (Date.now() < deadline && state !== 'running' && state !== 'degraded') {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const nspawn = descendants(child.pid!).find((pid) => commandOf(pid).startsWith('systemd-nspawn'));
        init = nspawn === undefined ? undefined : descendants(nspawn)[0];
        if (init !== undefined) state = spawnSync('nsenter', ['-t', String(init), '-a', 'systemctl', 'is-system-running'], { encoding: 'utf8' }).stdout.trim();
      }
      expect(state, output).toMatch(/^(running|degraded)$/);
      expect(commandOf(descendants(child.pid!).find((pid) => commandOf(pid).startsWith('systemd-nspawn'))!)).toContain('--boot');
      spawnSync('nsenter', ['-t', String(init), '-a', 'systemctl', 'poweroff']);
      expect(await ended).toBe(0);
      expect(processesMentioning(root)).toEqual([]);
    });
  });
});

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Children first, then theirs (breadth first). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone
    }
    found.push(...children);
    queue.push(...children);
  }
  return found;
}
