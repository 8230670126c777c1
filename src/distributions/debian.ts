import type { Distribution } from './types.js';

export const debian: Distribution = {
  name: 'debian',
  defaultMirror: (host) => host.debianMirror,
  mirrorHint: 'set Mirror= to a Debian mirror (the host has no Debian apt source to take it from)',
  packageManager: 'apt',
  keyring: { file: '/usr/share/keyrings/debian-archive-keyring.gpg', hint: 'apt-get install debian-archive-keyring', package: 'debian-archive-keyring' },
  // mkosi 14 also adds systemd-resolved and systemd-boot where the archive has them; bookworm's
  // systemd still ships resolved, and boot loaders only matter for bootable images.
  basePackages: () => ['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd'],
  probe: (config) => {
    const setting = config.LocalMirror ? 'LocalMirror' : 'Mirror';
    const mirror = (config.LocalMirror ?? config.Mirror)?.replace(/\/+$/, '');
    return mirror ? { url: `${mirror}/dists/${config.Release}/Release`, setting } : undefined;
  },
};
