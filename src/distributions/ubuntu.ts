import { debian } from './debian.js';
import type { Distribution } from './types.js';

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
};
