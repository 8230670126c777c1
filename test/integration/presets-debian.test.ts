/**
 * The Debian presets, built from the host's own mirror the way a new user meets them:
 *   - `kiln build` in an empty directory builds debian-minimal for the host's release, and says so;
 *   - `kiln init --preset debian-container` then `kiln build`, imported as machinectl import-tar does
 *     and booted with systemd-nspawn -b --network-veth: systemd reaches running with no failed unit,
 *     systemd-networkd manages host0, the console has its login prompt, root logs in without a password;
 *   - debian-server layered beneath a configuration of the user's own (--preset): summary shows the
 *     layering, the user's mkosi.rootpw wins, and the booted container makes its SSH host keys.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectHost } from '../../src/config/host.js';
import { bootContainer, failedUnits, hostLinksOf } from './helpers/boot.js';
import { CACHED, kiln, kilnOk, processesMentioning, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const host = detectHost();
const reason = whyNotRoot(
  ['systemd-nspawn', 'nsenter', 'ip', 'python3', SYSTEMD_IMPORT, 'xz'],
  host.distribution !== 'debian' || host.debianMirror === null ? 'needs a Debian host with an apt mirror' : undefined,
);

const temporary: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** Whether a unit is enabled in a root that is not running (systemctl --root reads the links). */
function isEnabled(root: string, unit: string): string {
  return spawnSync('systemctl', [`--root=${root}`, 'is-enabled', unit], { encoding: 'utf8' }).stdout.trim();
}

/** Root's password field as login sees it: /etc/shadow's, unless /etc/passwd holds one itself. */
function rootPasswordField(root: string): string {
  const passwd = readFileSync(path.join(root, 'etc/passwd'), 'utf8').split('\n').find((line) => line.startsWith('root:'))!;
  const field = passwd.split(':')[1]!;
  if (field !== 'x') return field;
  return readFileSync(path.join(root, 'etc/shadow'), 'utf8').split('\n').find((line) => line.startsWith('root:'))!.split(':')[1]!;
}

/** Checks a password against a crypt(3) hash with the host's libcrypt (yescrypt included). */
function passwordMatches(password: string, hash: string): boolean {
  const script = 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])';
  return execFileSync('python3', ['-W', 'ignore', '-c', script, password, hash], { encoding: 'utf8' }).trim() === 'True';
}

afterAll(() => {
  for (const dir of temporary) {
    spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});

describe.skipIf(reason)('Debian presets', () => {
  it('kiln build with no configuration builds debian-minimal for the host\'s release, and says so in one line', async () => {
    const dir = tempDir('kiln-preset-default-');
    const started = performance.now();
    // The preset is what is tested here, not the bootstrap: its root is the one every CACHED build of
    // images/debian-minimal uses (Hostname= is applied after the cached root).
    const result = await kilnOk([...CACHED, 'build'], { cwd: dir });
    console.log(`kiln build (no configuration: debian-minimal) took ${Math.round(performance.now() - started)} ms`);
    const notes = result.stderr.split('\n').filter((line) => line.includes('preset'));
    expect(notes).toEqual([
      `kiln: no mkosi.default in this directory, so kiln uses its debian-minimal preset (debian ${host.release}, Format=tar); \`kiln init\` writes a configuration to start from`,
    ]);
    expect(readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')).toMatch(/ \*image\.tar\.xz\n/);
    expect(workspacesIn(dir)).toEqual([]);

    const root = importTar(path.join(dir, 'image.tar.xz'), 'kiln-preset-minimal');
    temporary.push(path.dirname(root));
    expect(nspawn(root, ['sh', '-c', '. /etc/os-release && echo $ID $VERSION_CODENAME'])).toBe(`debian ${host.release}\n`);
    expect(nspawn(root, ['dpkg-query', '-W', '-f', '${Status}', 'less'])).toBe('install ok installed');
    // The minimal preset enables no network of its own (debian-container does).
    expect(isEnabled(root, 'systemd-networkd.service')).toBe('disabled');
  });

  it('kiln init --preset debian-container writes a directory that builds at once and boots to a login prompt with its own network', async () => {
    const dir = path.join(tempDir('kiln-preset-init-'), 'mybox');
    const init = await kilnOk(['init', dir, '--preset', 'debian-container']);
    expect(init.stderr).toContain('from the debian-container preset (debian, Format=tar)');
    expect(statSync(path.join(dir, 'mkosi.postinst')).mode & 0o777).toBe(0o755);
    for (const file of ['mkosi.default', 'mkosi.extra/etc/motd', 'mkosi.nspawn', '.gitignore']) expect(existsSync(path.join(dir, file)), file).toBe(true);

    const again = await kiln(['init', dir, '--preset', 'debian-container']);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already has mkosi.default, mkosi.postinst, mkosi.extra, mkosi.nspawn, .gitignore; kiln init never overwrites files');

    const started = performance.now();
    // On the shared cached root, as the build above. Without xz: the preset's tar.xz is the test
    // above's; this one is about what boots from it, and systemd-import takes a plain tar alike.
    await kilnOk([...CACHED, '--compress-output=no', 'build'], { cwd: dir });
    console.log(`kiln build (kiln init --preset debian-container) took ${Math.round(performance.now() - started)} ms`);
    expect(readFileSync(path.join(dir, 'image.nspawn'), 'utf8')).toContain('VirtualEthernet=yes');

    // machinectl import-tar's own importer, then a boot with a veth link as machinectl start gives.
    const root = importTar(path.join(dir, 'image.tar'), 'kiln-preset-container');
    temporary.push(path.dirname(root));
    expect(isEnabled(root, 'systemd-networkd.service')).toBe('enabled');
    expect(rootPasswordField(root)).toBe('');
    expect(readFileSync(path.join(root, 'etc/issue'), 'utf8')).toMatch(/^mybox: Debian GNU\/Linux 12 \(bookworm\), built with kiln\n/);
    expect(readFileSync(path.join(root, 'etc/motd'), 'utf8')).toContain('Welcome to mybox, an image built with kiln.');

    const container = await bootContainer(root, { veth: true });
    let powered: number | null = null;
    try {
      expect(container.state, container.output()).toBe('running');
      expect(failedUnits(container)).toEqual([]);
      expect(container.exec(['systemctl', 'is-active', 'systemd-networkd.service', 'console-getty.service']).stdout).toBe('active\nactive\n');
      // networkd took host0, the container's end of the veth link, with the container profile.
      const link = container.exec(['networkctl', 'status', 'host0', '--no-pager']).stdout;
      expect(link).toMatch(/Network File: \/(usr\/)?lib\/systemd\/network\/80-container-host0\.network/);
      expect(hostLinksOf(container.machine)).toHaveLength(1);
    } finally {
      powered = await container.poweroff();
    }
    expect(powered).toBe(0);
    expect(processesMentioning(root)).toEqual([]);
    expect(hostLinksOf(container.machine)).toEqual([]);
  });

  it('debian-server beneath a configuration of the user\'s own: overrides, appended lists, the user\'s mkosi.rootpw, host keys made at boot', async () => {
    const dir = tempDir('kiln-preset-server-');
    writeFileSync(path.join(dir, 'mkosi.default'), '[Output]\nFormat=directory\n\n[Content]\nPackages=iproute2\n');
    writeFileSync(path.join(dir, 'mkosi.rootpw'), 'preset-test-password\n', { mode: 0o600 });

    const summary = await kilnOk(['--preset', 'debian-server', 'summary'], { cwd: dir });
    const lines = summary.stdout.split('\n');
    expect(lines[0]).toMatch(/^Configuration: \/.*\/presets\/debian-server\/mkosi\.default, mkosi\.default$/);
    expect(lines[1]).toMatch(/^Preset: debian-server \(read first/);
    expect(summary.stdout).toMatch(/^ {2}Format: +directory$/m);
    expect(summary.stdout).toMatch(/^ {2}Packages: +less, openssh-server, iproute2$/m);
    expect(summary.stdout).toMatch(/^ {2}RemoveFiles: +\/etc\/ssh\/ssh_host_\*$/m);
    const json = JSON.parse((await kilnOk(['--preset', 'debian-server', 'summary', '--json'], { cwd: dir })).stdout) as Record<string, unknown>;
    expect(json.ExtraTrees).toEqual([expect.stringMatching(/\/presets\/debian-server\/mkosi\.extra$/)]);

    const started = performance.now();
    await kilnOk([...CACHED, '--preset', 'debian-server', 'build'], { cwd: dir });
    console.log(`kiln build --preset debian-server (Format=directory) took ${Math.round(performance.now() - started)} ms`);
    const root = path.join(dir, 'image');
    expect(passwordMatches('preset-test-password', rootPasswordField(root))).toBe(true);
    expect(existsSync(path.join(root, 'usr/sbin/sshd'))).toBe(true);
    expect(existsSync(path.join(root, 'usr/sbin/ip'))).toBe(true);
    expect(spawnSync('sh', ['-c', `ls ${root}/etc/ssh/ssh_host_*`]).status).not.toBe(0);
    expect(isEnabled(root, 'ssh.service')).toBe('enabled');
    expect(isEnabled(root, 'systemd-networkd.service')).toBe('enabled');

    const container = await bootContainer(root, { veth: true });
    let powered: number | null = null;
    try {
      expect(container.state, container.output()).toBe('running');
      expect(failedUnits(container)).toEqual([]);
      expect(container.exec(['systemctl', 'is-active', 'ssh.service']).stdout).toBe('active\n');
      expect(container.exec(['sh', '-c', 'ls /etc/ssh/ssh_host_*_key | wc -l']).stdout.trim()).not.toBe('0');
    } finally {
      powered = await container.poweroff();
    }
    expect(powered).toBe(0);
    expect(processesMentioning(root)).toEqual([]);
  });

  it('an unknown preset is one clear line with a suggestion, before anything is built', async () => {
    const dir = tempDir('kiln-preset-unknown-');
    const result = await kiln(['--preset', 'debian-servre', 'build'], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe('kiln: error: there is no preset "debian-servre"');
    expect(result.stderr).toMatch(/^kiln: hint: did you mean debian-server\? \(presets: arch-base, debian-container, debian-minimal, debian-server, fedora-minimal\)$/m);
  });
});
