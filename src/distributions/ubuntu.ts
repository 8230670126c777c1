import { debian, debianLikePackages, type DebianLikePolicy } from './debian.js';
import type { Distribution } from './types.js';

/** Releases whose systemd still contained systemd-boot. */
const UBUNTU_WITHOUT_SYSTEMD_BOOT_PACKAGE = new Set(['trusty', 'xenial', 'bionic', 'focal', 'jammy']);

const ubuntuPolicy: DebianLikePolicy = {
  // linux-generic is Ubuntu's kernel metapackage on every architecture (mkosi 14).
  kernel: (config) =>
    config.Packages.some((name) => name === 'linux-generic' || name.startsWith('linux-image')) ? null : 'linux-generic',
  hasSystemdBootPackage: (release) => !UBUNTU_WITHOUT_SYSTEMD_BOOT_PACKAGE.has(release),
};

export const ubuntu: Distribution = {
  ...debian,
  name: 'ubuntu',
  // mkosi 14's defaults: the archive for x86, the ports archive for every other architecture.
  defaultMirror: (_host, architecture) =>
    architecture === 'x86_64' || architecture === 'x86' ? 'http://archive.ubuntu.com/ubuntu' : 'http://ports.ubuntu.com',
  mirrorHint: 'set Mirror= to an Ubuntu archive mirror',
  keyring: {
    file: '/usr/share/keyrings/ubuntu-archive-keyring.gpg',
    // Debian 12 does not package Ubuntu's keyring (older and newer Debian releases do).
    hint: "copy it from Ubuntu's ubuntu-keyring package, or set RepositoryKeyCheck=no",
  },
  basePackages: (config) => debianLikePackages(config, ubuntuPolicy),
};
