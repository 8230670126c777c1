/**
 * Issue 16's proof: images/lxc-container, built as Format=lxc and signed, is taken by Debian's LXC
 * as it is — lxc-create's `local` template unpacks image.meta.tar.xz and image.rootfs.tar.xz, the
 * container boots with systemd to `running`, carries the mkosi.extra file and the container's name
 * as its hostname, and lxc-stop and lxc-destroy leave no directory, mount or process behind. One
 * build, one container: LXC runs it privileged with its own -P path and no network
 * (lxc.net.0.type = empty), as this machine has no lxcbr0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kilnOk, makeProject, mountsUnder, processesMentioning, runAsync, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { removeGnupgHome } from './helpers/pull.js';

const reason = whyNotRoot(['mmdebstrap', 'lxc-create', 'lxc-start', 'lxc-attach', 'lxc-stop', 'lxc-destroy', 'gpg', 'gpgv', 'xz', 'sha256sum']);
const NAME = `kiln-lxc-${process.pid}`;

describe.skipIf(reason)('images/lxc-container under LXC', () => {
  let home: string;
  let fingerprint: string;
  let project: string;
  let lxcPath: string;
  let created = false;

  /** An LXC command on the test's own container path. */
  const lxc = (command: string, args: readonly string[] = []) => runAsync([command, '-P', lxcPath, '-n', NAME, ...args]);
  const attach = async (command: readonly string[]): Promise<string> => {
    const result = await lxc('lxc-attach', ['--clear-env', '--', ...command]);
    if (result.status !== 0) throw new Error(`lxc-attach -- ${command.join(' ')} exited with ${result.status}: ${result.stderr}`);
    return result.stdout;
  };

  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-'));
    fingerprint = (await kilnOk(['genkey', 'kiln lxc test <lxc-test@localhost>'], { env: { GNUPGHOME: home } })).stdout.trim();
    project = makeProject('lxc-container');
    lxcPath = mkdtempSync('/var/tmp/kiln-lxc-');
    const started = performance.now();
    await kilnOk([...CACHED, '--sign', '--key', fingerprint, 'build'], { cwd: project, env: { GNUPGHOME: home } });
    console.log(`kiln build of images/lxc-container took ${Math.round(performance.now() - started)} ms`);
  });

  afterAll(async () => {
    if (created) {
      await lxc('lxc-stop', ['--kill']);
      await lxc('lxc-destroy', ['--force']);
    }
    if (lxcPath) rmSync(lxcPath, { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
    if (home) await removeGnupgHome(home);
  });

  it('writes both tarballs into SHA256SUMS, signs it, and writes the manifest', () => {
    expect(execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: project, encoding: 'utf8' })).toBe('image.rootfs.tar.xz: OK\nimage.meta.tar.xz: OK\n');
    const keyring = path.join(home, 'pub.gpg');
    writeFileSync(keyring, execFileSync('gpg', ['--batch', '--export', fingerprint], { env: { ...process.env, GNUPGHOME: home } }));
    const gpgv = spawnSync('gpgv', ['--keyring', keyring, 'SHA256SUMS.gpg', 'SHA256SUMS'], { cwd: project, encoding: 'utf8' });
    expect(gpgv.status, gpgv.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(project, 'image.rootfs.tar.xz.manifest'), 'utf8')) as { packages: { name: string }[] };
    expect(manifest.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['systemd', 'systemd-resolved']));
    for (const file of ['image.rootfs.tar.xz', 'image.meta.tar.xz', 'SHA256SUMS', 'SHA256SUMS.gpg', 'image.rootfs.tar.xz.manifest']) {
      expect(statSync(path.join(project, file)).mode & 0o777, file).toBe(0o644);
    }
    expect(workspacesIn(project)).toEqual([]);
  });

  it('is created by lxc-create -t local and boots with systemd to running', async () => {
    writeFileSync(path.join(lxcPath, 'net.conf'), 'lxc.net.0.type = empty\n');
    const create = await lxc('lxc-create', ['-f', path.join(lxcPath, 'net.conf'), '-t', 'local', '--',
      '--metadata', path.join(project, 'image.meta.tar.xz'), '--fstree', path.join(project, 'image.rootfs.tar.xz')]);
    created = true;
    expect(create.status, create.stderr).toBe(0);
    expect(create.stdout).toMatch(/You just created a Debian \S+ amd64 \(default\) \(\d{8}_\d{4}\) container, built by kiln\./);
    expect(readFileSync(path.join(lxcPath, NAME, 'config'), 'utf8')).toMatch(/^lxc\.include = \/usr\/share\/lxc\/config\/common\.conf\nlxc\.arch = linux64$/m);

    const start = await lxc('lxc-start', ['-d']);
    expect(start.status, start.stderr).toBe(0);
    // Until systemd in the container has made its private socket, systemctl cannot ask it anything;
    // is-system-running --wait then waits for the boot to finish.
    let state = '';
    for (let tries = 0; tries < 120 && state === ''; tries++) {
      const result = await lxc('lxc-attach', ['--clear-env', '--', 'timeout', '300', 'systemctl', 'is-system-running', '--wait']);
      state = result.stdout.trim();
      if (state === '') await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (state !== 'running') console.log(await attach(['systemctl', '--failed', '--no-pager']));
    expect(state).toBe('running');
  });

  it('has the mkosi.extra file, its name as hostname, a machine ID of its own and DHCP on eth0', async () => {
    expect(await attach(['cat', '/etc/motd'])).toBe(readFileSync(path.join(project, 'mkosi.extra/etc/motd'), 'utf8'));
    expect(await attach(['hostname'])).toBe(`${NAME}\n`);
    expect(await attach(['cat', '/etc/hostname'])).toBe(`${NAME}\n`);
    expect(await attach(['cat', '/etc/hosts'])).toMatch(new RegExp(`^127\\.0\\.1\\.1\\t${NAME}$`, 'm'));
    expect(await attach(['cat', '/etc/machine-id'])).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await attach(['systemctl', 'is-active', 'systemd-networkd'])).toBe('active\n');
    expect(await attach(['cat', '/etc/systemd/network/eth0.network'])).toMatch(/^\[Match\]\nName=eth0\n/);
  });

  it('stops and is destroyed without leaving a directory, mount or process', async () => {
    const stop = await lxc('lxc-stop');
    expect(stop.status, stop.stderr).toBe(0);
    const destroy = await lxc('lxc-destroy');
    expect(destroy.status, destroy.stderr).toBe(0);
    created = false;
    expect(existsSync(path.join(lxcPath, NAME))).toBe(false);
    expect(mountsUnder(lxcPath)).toEqual([]);
    expect(processesMentioning(NAME)).toEqual([]);
  });
});
