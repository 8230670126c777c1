import type { Distribution } from './types.js';

export const arch: Distribution = {
  name: 'arch',
  defaultMirror: () => null,
  mirrorHint: 'set Mirror= to an Arch Linux mirror, or LocalMirror= to a local repository',
  packageManager: 'pacman',
  basePackages: () => ['base'],
};
