import type { Distribution } from './types.js';

export const debian: Distribution = {
  name: 'debian',
  defaultMirror: (host) => host.debianMirror,
  mirrorHint: 'set Mirror= to a Debian mirror (the host has no Debian apt source to take it from)',
};
