/**
 * Debian: mirror, release and base-package policy. Ubuntu (ubuntu.ts) reuses it with its own kernel
 * package and boot-loader history.
 */
import { isDiskFormat } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { Distribution } from './types.js';

/** Debian's kernel flavour per architecture (linux-image-<flavour>), as mkosi 14 picks it. */
const KERNEL_FLAVOURS: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  i686: '686-pae',
  i386: '686-pae',
  armv7l: 'armmp',
  armv7hl: 'armmp',
  ppc64le: 'powerpc64le',
  riscv64: 'riscv64',
  s390x: 's390x',
};

/** Releases whose systemd still contained systemd-boot (Debian split it out in bookworm). */
const DEBIAN_WITHOUT_SYSTEMD_BOOT_PACKAGE = new Set(['jessie', 'stretch', 'buster', 'bullseye', '8', '9', '10', '11']);

export interface DebianLikePolicy {
  /** The kernel package when Packages= names none, or null when Packages= does. */
  kernel(config: Config): string | null;
  /** Whether the release has systemd-boot as a package of its own. */
  hasSystemdBootPackage(release: string): boolean;
}

/** mkosi 14's install_debian_or_ubuntu(): what BasePackages= adds on Debian and Ubuntu. */
export function debianLikePackages(config: Config, policy: DebianLikePolicy): string[] {
  const packages = ['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd'];
  if (config.Bootable) {
    packages.push('dracut');
    const kernel = policy.kernel(config);
    if (kernel !== null) packages.push(kernel);
    // The disk formats get an EFI system partition, and systemd-boot in it.
    if (isDiskFormat(config.Format) && policy.hasSystemdBootPackage(config.Release)) packages.push('systemd-boot');
    if (config.Format === 'gpt_btrfs') packages.push('btrfs-progs');
  }
  if (config.Ssh) packages.push('openssh-server');
  return packages;
}

const debianPolicy: DebianLikePolicy = {
  kernel: (config) =>
    config.Packages.some((name) => name.startsWith('linux-image')) ? null : `linux-image-${KERNEL_FLAVOURS[config.Architecture] ?? config.Architecture}`,
  hasSystemdBootPackage: (release) => !DEBIAN_WITHOUT_SYSTEMD_BOOT_PACKAGE.has(release),
};

export const debian: Distribution = {
  name: 'debian',
  defaultMirror: (host) => host.debianMirror,
  mirrorHint: 'set Mirror= to a Debian mirror (the host has no Debian apt source to take it from)',
  packageManager: 'apt',
  keyring: { file: '/usr/share/keyrings/debian-archive-keyring.gpg', hint: 'apt-get install debian-archive-keyring', package: 'debian-archive-keyring' },
  // mkosi 14 also adds systemd-resolved where the archive has it; bookworm's systemd still ships it.
  basePackages: (config) => debianLikePackages(config, debianPolicy),
  initrdPath: (version) => `boot/initrd.img-${version}`,
  // Debian's openssh-server enables ssh.service itself; its ssh.socket would conflict with it.
  sshUnit: 'ssh.service',
  probe: (config) => {
    const setting = config.LocalMirror ? 'LocalMirror' : 'Mirror';
    const mirror = (config.LocalMirror ?? config.Mirror)?.replace(/\/+$/, '');
    return mirror ? { url: `${mirror}/dists/${config.Release}/Release`, setting } : undefined;
  },
};
