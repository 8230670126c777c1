/**
 * Ssh=yes, as mkosi 14's configure_ssh(): the distribution's OpenSSH server enabled, listening on
 * SshPort=, and root's authorized_keys holding the public half of the key `kiln ssh` uses (only the
 * public half: the private key never enters the image).
 */
import fs from 'node:fs/promises';
import { getDistribution } from '../distributions/index.js';
import { mkdirInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { authorizedKeys } from '../vm/ssh-key.js';
import type { Stage } from './types.js';
import { enableUnits } from './units.js';

/** sshd reads /etc/ssh/sshd_config.d/*.conf first (Debian, Fedora), so this sets the port. */
export function sshPortConfig(port: number): string | undefined {
  return port === 22 ? undefined : `# Written by kiln for SshPort=.\nPort ${port}\n`;
}

export const sshStage: Stage = {
  title: 'Setting up ssh',
  enabled: (context) => context.config.Ssh,
  async run(context) {
    const { root, config } = context;
    await enableUnits(root, [getDistribution(config.Distribution).sshUnit], config.ExtraSearchPaths);
    const port = sshPortConfig(config.SshPort);
    if (port !== undefined) await writeFileInRoot(root, 'etc/ssh/sshd_config.d/kiln-port.conf', port);
    // sshd ignores an authorized_keys that others could change.
    await fs.chmod(await mkdirInRoot(root, 'root/.ssh', 0o700), 0o700);
    await writeFileInRoot(root, 'root/.ssh/authorized_keys', await authorizedKeys(config), 0o600);
  },
};
