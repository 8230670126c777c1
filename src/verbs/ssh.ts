/**
 * `kiln ssh [COMMAND…]`: logs in as root on the machine `kiln qemu` runs for this image, with the key
 * of Ssh= (SshKey=, SshAgent=, or the one kiln made), waiting up to SshTimeout= seconds for its ssh
 * server. The machine's host key is not checked (it is a fresh machine each time), as mkosi 14 did.
 */
import fs from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { run } from '../run.js';
import { linkLocalAddress, waitForSsh } from '../vm/network.js';
import { findVm, type RunningVm, type SshRoute } from '../vm/registry.js';
import { loginKey } from '../vm/ssh-key.js';
import type { Verb } from './types.js';

/** The ssh argv for a route; `address` is 127.0.0.1 for a forwarded port, the link-local address on a tap link. */
export function sshArgv(config: Pick<Config, 'SshAgent'>, key: string | null, route: SshRoute, address: string, command: readonly string[]): string[] {
  const argv = ['ssh', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'LogLevel=ERROR'];
  if (key !== null) argv.push('-i', key, '-o', 'IdentitiesOnly=yes');
  else argv.push('-o', `IdentityAgent=${config.SshAgent}`);
  argv.push('-p', String(route.port), `root@${address}`);
  // ssh joins the words into one command line for the remote shell; `--` keeps options out of it.
  if (command.length > 0) argv.push('--', ...command);
  return argv;
}

/**
 * The machine of `image`, waiting up to `timeout` seconds for a kiln qemu started just before (in the
 * background) to get that far: it copies an Ephemeral= image and probes KVM first.
 */
async function waitForVm(image: string, timeout: number): Promise<RunningVm | undefined> {
  const deadline = Date.now() + timeout * 1000;
  for (;;) {
    const vm = await findVm(image);
    if (vm || Date.now() >= deadline) return vm;
    await setTimeout(1000);
  }
}

export const ssh: Verb = {
  doc: 'Log in with ssh (or run COMMAND) on the machine kiln qemu runs for this image (Ssh=yes)',
  origin: 'mkosi',
  takesCommandLine: true,
  async run(invocation) {
    const { config } = invocation.config();
    const key = loginKey(config);
    if (key !== null && !(await fs.access(key).then(() => true, () => false))) {
      throw new UserError(`no ssh key at ${invocation.display(key)}`, { hint: 'build the image with Ssh=yes first (kiln -f build), or set SshKey=' });
    }
    const vm = await waitForVm(config.Output, config.SshTimeout);
    if (!vm) throw new UserError(`no machine of ${invocation.display(config.Output)} is running`, { hint: 'start it with kiln qemu (in another terminal, or in the background)' });
    if (!vm.ssh) throw new UserError('the running machine was started without Ssh=yes, so it has no way in for ssh', { hint: 'set Ssh=yes, build again and restart kiln qemu' });
    const address = vm.ssh.type === 'forward' ? '127.0.0.1' : await linkLocalAddress(vm.ssh.ifname, config.SshTimeout);
    if (vm.ssh.type === 'forward' && !(await waitForSsh(address, vm.ssh.port, config.SshTimeout))) {
      throw new UserError(`the machine's ssh server did not answer${config.SshTimeout > 0 ? ` within ${config.SshTimeout} s` : ''}`, {
        hint: 'it may still be booting: wait, or set SshTimeout= (seconds) to wait for it',
      });
    }
    const argv = sshArgv(config, key, vm.ssh, address, invocation.args.commandLine);
    const result = await run(argv, { stdio: 'inherit', okCodes: Array.from({ length: 256 }, (_, i) => i), what: 'Running ssh', searchPaths: config.ExtraSearchPaths });
    return result.exitCode;
  },
};
