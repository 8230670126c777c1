import { debian } from './debian.js';
import type { Distribution } from './types.js';

export const ubuntu: Distribution = {
  ...debian,
  name: 'ubuntu',
  defaultMirror: () => null,
  mirrorHint: "set Mirror= to an Ubuntu archive mirror (the host's apt sources are Debian's)",
  keyring: { file: '/usr/share/keyrings/ubuntu-archive-keyring.gpg', package: 'ubuntu-keyring' },
};
