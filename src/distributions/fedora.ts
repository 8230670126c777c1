import type { Distribution } from './types.js';

export const fedora: Distribution = {
  name: 'fedora',
  defaultMirror: () => null,
  mirrorHint: 'set Mirror= to a Fedora mirror, or LocalMirror= to a local repository',
  packageManager: 'dnf',
  basePackages: () => ['systemd', 'util-linux', 'dnf'],
};
