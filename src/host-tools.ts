/**
 * Host tools kiln calls and the Debian packages that provide them, for "install X" hints, the
 * up-front tool check of a build and `kiln doctor`.
 */
import { findCommand } from './util/which.js';

export const TOOL_PACKAGES = {
  debootstrap: 'debootstrap',
  mmdebstrap: 'mmdebstrap',
  'systemd-nspawn': 'systemd-container',
  'systemd-dissect': 'systemd-container',
  pacman: 'pacman-package-manager',
  pacstrap: 'arch-install-scripts',
  'pacman-key': 'pacman-package-manager',
  dnf: 'dnf',
  rpm: 'rpm',
  zypper: 'zypper',
  'mkfs.ext4': 'e2fsprogs',
  'e2fsck': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  'mkfs.btrfs': 'btrfs-progs',
  btrfs: 'btrfs-progs',
  'mkfs.xfs': 'xfsprogs',
  xfs_db: 'xfsprogs',
  mksquashfs: 'squashfs-tools',
  resize2fs: 'e2fsprogs',
  veritysetup: 'cryptsetup-bin',
  cryptsetup: 'cryptsetup-bin',
  bmaptool: 'bmap-tools',
  mkswap: 'util-linux',
  unshare: 'util-linux',
  sfdisk: 'fdisk',
  'qemu-img': 'qemu-utils',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-system-aarch64': 'qemu-system-arm',
  'mkfs.fat': 'dosfstools',
  'fsck.fat': 'dosfstools',
  mcopy: 'mtools',
  mdir: 'mtools',
  mtype: 'mtools',
  objcopy: 'binutils',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  'ssh-add': 'openssh-client',
  gpg: 'gnupg',
  git: 'git',
  xz: 'xz-utils',
  zstd: 'zstd',
  gzip: 'gzip',
  pigz: 'pigz',
  getfattr: 'attr',
  setfattr: 'attr',
  'dpkg-query': 'dpkg',
  openssl: 'openssl',
  tar: 'tar',
  rsync: 'rsync',
  cpio: 'cpio',
  cp: 'coreutils',
  mount: 'mount',
  flock: 'util-linux',
  umount: 'mount',
  systemctl: 'systemd',
  'lxc-create': 'lxc',
  'lxc-start': 'lxc',
  'lxc-attach': 'lxc',
  sbsign: 'sbsigntool',
  sbverify: 'sbsigntool',
  'systemd-measure': 'systemd',
  swtpm: 'swtpm',
} as const;

/** Programs distributions keep off $PATH, and where (systemd's helpers in its library directory). */
const OFF_PATH: Readonly<Record<string, readonly string[]>> = {
  'systemd-measure': ['/usr/lib/systemd', '/lib/systemd'],
};

/** The directories searched for `tool` after the search path. */
export function offPathDirectories(tool: string): readonly string[] {
  return OFF_PATH[tool] ?? [];
}

export type ToolName = keyof typeof TOOL_PACKAGES;

export function packageOf(tool: string): string | undefined {
  return (TOOL_PACKAGES as Record<string, string>)[tool];
}

/** Search path: ExtraSearchPaths= first, then $PATH, then the sbin directories sudo may have dropped. */
export function searchPath(extra: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...extra, ...(env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return [...new Set(dirs.filter(Boolean))].join(':');
}

export function locateTool(tool: string, extra: readonly string[] = []): string | undefined {
  return findCommand(tool, { PATH: [searchPath(extra), ...offPathDirectories(tool)].join(':') });
}

export function installHint(tools: readonly string[]): string {
  const packages = [...new Set(tools.map((tool) => packageOf(tool)).filter((p): p is string => p !== undefined))];
  return packages.length > 0 ? `install it with: apt-get install ${packages.join(' ')}` : 'install it and try again';
}
