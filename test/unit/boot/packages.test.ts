import { describe, expect, it } from 'vitest';
import { arch } from '../../../src/distributions/arch.js';
import { debian } from '../../../src/distributions/debian.js';
import { fedora } from '../../../src/distributions/fedora.js';
import { ubuntu } from '../../../src/distributions/ubuntu.js';
import { pamWithAutologin, AUTOLOGIN_DROPINS } from '../../../src/stages/autologin.js';
import { serialTerminalDropin } from '../../../src/stages/serial-terminal.js';
import { configOf } from '../package-managers/config-of.js';

const DEBIAN = '[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86_64\n';

describe('what a bootable image installs (mkosi 14\'s choices)', () => {
  it('Debian: dracut, linux-image-amd64 and systemd-boot; btrfs-progs for gpt_btrfs; openssh-server for Ssh=yes', () => {
    const base = ['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd'];
    expect(debian.basePackages(configOf(DEBIAN))).toEqual(base);
    expect(debian.basePackages(configOf(`${DEBIAN}[Output]\nBootable=yes\n`))).toEqual([...base, 'dracut', 'linux-image-amd64', 'systemd-boot']);
    expect(debian.basePackages(configOf(`${DEBIAN}[Output]\nBootable=yes\nFormat=gpt_btrfs\n[Host]\nSsh=yes\n`))).toEqual([
      ...base, 'dracut', 'linux-image-amd64', 'systemd-boot', 'btrfs-progs', 'openssh-server',
    ]);
  });

  it('Debian: no default kernel when Packages= names a linux-image, no systemd-boot package before bookworm or without an ESP', () => {
    expect(debian.basePackages(configOf(`${DEBIAN}[Output]\nBootable=yes\n[Content]\nPackages=linux-image-cloud-amd64\n`))).not.toContain('linux-image-amd64');
    expect(debian.basePackages(configOf(`[Distribution]\nDistribution=debian\nRelease=bullseye\n[Output]\nBootable=yes\n`))).not.toContain('systemd-boot');
    expect(debian.basePackages(configOf(`${DEBIAN}[Output]\nBootable=yes\nFormat=tar\n`))).toEqual(['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd', 'dracut', 'linux-image-amd64']);
  });

  it('Ubuntu: linux-generic unless a kernel is listed', () => {
    const ubuntuConfig = '[Distribution]\nDistribution=ubuntu\nRelease=noble\nMirror=http://127.0.0.1/ubuntu\n[Output]\nBootable=yes\n';
    expect(ubuntu.basePackages(configOf(ubuntuConfig))).toContain('linux-generic');
    expect(ubuntu.basePackages(configOf(`${ubuntuConfig}[Content]\nPackages=linux-image-generic-hwe-24.04\n`))).not.toContain('linux-generic');
    expect(ubuntu.basePackages(configOf(ubuntuConfig.replace('noble', 'jammy')))).not.toContain('systemd-boot');
  });

  it('Arch: dracut and linux unless another official kernel is listed, xfsprogs for gpt_xfs, openssh', () => {
    const archConfig = '[Distribution]\nDistribution=arch\nMirror=http://127.0.0.1/arch\n[Output]\nBootable=yes\n';
    expect(arch.basePackages(configOf(archConfig))).toEqual(['base', 'dracut', 'linux']);
    expect(arch.basePackages(configOf(`${archConfig}Format=gpt_xfs\n[Content]\nPackages=linux-lts\n[Host]\nSsh=yes\n`))).toEqual(['base', 'xfsprogs', 'dracut', 'openssh']);
  });

  it('Fedora: the kernel, dracut and systemd-boot-unsigned for a disk', () => {
    const fedoraConfig = '[Distribution]\nDistribution=fedora\nRelease=38\nMirror=http://127.0.0.1/fedora\n[Output]\nBootable=yes\n';
    expect(fedora.basePackages(configOf(fedoraConfig))).toEqual(['systemd', 'util-linux', 'dnf', 'kernel-core', 'kernel-modules', 'dracut', 'systemd-boot-unsigned', '(systemd-udev if systemd)']);
  });
});

describe('Autologin=yes', () => {
  it('logs root in on the container console, the serial port and tty1, and lets PAM pass them', () => {
    expect(AUTOLOGIN_DROPINS.map((d) => d.unit)).toEqual(['console-getty.service', 'serial-getty@ttyS0.service', 'getty@tty1.service']);
    expect(AUTOLOGIN_DROPINS[1]!.content).toBe(
      "[Service]\nExecStart=\nExecStart=-/sbin/agetty -o '-p -- \\\\u' --autologin root --keep-baud 115200,57600,38400,9600 - $TERM\nStandardInput=tty\nStandardOutput=tty\n",
    );
    const pam = pamWithAutologin('auth required pam_unix.so\n');
    expect(pam.split('\n').slice(0, 3)).toEqual(['auth sufficient pam_succeed_if.so tty = pts/0', 'auth sufficient pam_succeed_if.so tty = /dev/pts/0', 'auth sufficient pam_succeed_if.so tty = ttyS0']);
    expect(pam.endsWith('auth required pam_unix.so\n')).toBe(true);
  });
});

describe('QemuHeadless=yes', () => {
  it('gives the serial getty the building terminal\'s type and size, or vt220 and 80×24 as mkosi 14', () => {
    expect(serialTerminalDropin({ term: 'xterm-256color', columns: 132, rows: 43 })).toBe(
      '[Service]\nEnvironment=TERM=xterm-256color\nEnvironment=COLUMNS=132\nEnvironment=LINES=43\nTTYColumns=132\nTTYRows=43\n',
    );
    expect(serialTerminalDropin({ term: undefined, columns: undefined, rows: undefined })).toContain('Environment=TERM=vt220\nEnvironment=COLUMNS=80\nEnvironment=LINES=24\n');
    expect(serialTerminalDropin({ term: 'x y\nExecStart=/bin/evil', columns: 80, rows: 24 })).toContain('Environment=TERM=vt220\n');
  });
});
