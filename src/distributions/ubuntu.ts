import { debian } from './debian.js';
import type { Distribution } from './types.js';

export const ubuntu: Distribution = {
  ...debian,
  name: 'ubuntu',
  defaultMirror: () => null,
  mirrorHint: "set Mirror= to an Ubuntu archive mirror (the host's apt sources are Debian's)",
  keyring: {
    file: '/usr/share/keyrings/ubuntu-archive-keyring.gpg',
    // Debian 12 does not package Ubuntu's keyring (older and newer Debian releases do).
    hint: "copy it from Ubuntu's ubuntu-keyring package, or set RepositoryKeyCheck=no",
  },
};
