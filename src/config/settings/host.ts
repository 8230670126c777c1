/** [Host] settings: how kiln runs things on this machine (nspawn, qemu, ssh). */
import os from 'node:os';
import path from 'node:path';
import { isBooleanLiteral, parseBoolean } from '../parsers.js';
import { bool, enumeration, integer, list, pathSetting, string, type ResolveContext } from '../setting.js';

const section = 'Host';

/**
 * mkosi 14 expands $VAR and ${VAR} (string.Template) in search paths, with $SUDO_HOME for the user
 * behind sudo; a path naming an unset variable is dropped.
 */
function expandSearchPaths(items: readonly string[], context: ResolveContext): string[] {
  const env: Record<string, string | undefined> = { ...context.env };
  if (env.SUDO_USER && env.SUDO_HOME === undefined) {
    env.SUDO_HOME = env.SUDO_USER === os.userInfo().username ? os.homedir() : path.join('/home', env.SUDO_USER);
  }
  const expanded: string[] = [];
  for (const item of items) {
    let missing = false;
    const value = item.replace(/\$(?:\$|\{(\w+)\}|(\w+))/g, (match, braced?: string, bare?: string) => {
      if (match === '$$') return '$';
      const found = env[(braced ?? bare)!];
      if (found === undefined) missing = true;
      return found ?? '';
    });
    if (!missing) expanded.push(path.resolve(context.directory, value));
  }
  return expanded;
}

/** mkosi's parse_ssh_agent(): empty or a false boolean is no agent, a true one is $SSH_AUTH_SOCK. */
function sshAgentSocket(raw: string, context: ResolveContext): string | null {
  if (raw === '') return null;
  if (!isBooleanLiteral(raw)) return raw;
  return parseBoolean(raw) ? (context.env.SSH_AUTH_SOCK ?? null) : null;
}

export const hostSettings = {
  ExtraSearchPaths: list<readonly string[]>({
    section,
    flags: ['--extra-search-path', '--extra-search-paths'],
    mkosi: 'extra_search_paths',
    delimiter: ':',
    finalize: expandSearchPaths,
    metavar: 'PATH:…',
    doc: 'Directories searched for tools before $PATH',
  }),
  QemuHeadless: bool({ section, flags: ['--qemu-headless'], mkosi: 'qemu_headless', default: false, status: 'unsupported', doc: 'Boot qemu with a serial console only' }),
  QemuSmp: string<string>({ section, flags: ['--qemu-smp'], mkosi: 'qemu_smp', default: '1', status: 'unsupported', doc: 'CPUs of the qemu machine' }),
  QemuMem: string<string>({ section, flags: ['--qemu-mem'], mkosi: 'qemu_mem', default: '1G', status: 'unsupported', doc: 'Memory of the qemu machine' }),
  QemuKvm: bool({ section, flags: ['--qemu-kvm'], mkosi: 'qemu_kvm', default: (context) => context.host.kvm, status: 'unsupported', doc: 'Use KVM for qemu (default: when available)' }),
  QemuArgs: list({ section, flags: ['--qemu-args'], mkosi: 'qemu_args', delimiter: ' ', dedupe: false, status: 'unsupported', doc: 'Extra qemu arguments' }),
  QemuBoot: enumeration<'uefi' | 'linux', 'uefi' | 'linux'>(['uefi', 'linux'], { section, flags: ['--qemu-boot'], mkosi: 'qemu_boot', default: 'uefi', status: 'unsupported', doc: 'How qemu boots the image' }),
  NspawnKeepUnit: bool({
    section,
    flags: ['--nspawn-keep-unit'],
    mkosi: 'nspawn_keep_unit',
    default: false,
    doc: 'Always run systemd-nspawn with --keep-unit (kiln adds it by itself where systemd is not PID 1)',
  }),
  Netdev: bool({
    section,
    flags: ['--netdev', '--network-veth'],
    mkosi: 'netdev',
    default: false,
    status: 'unsupported',
    doc: 'Give the booted image a network interface',
  }),
  Ephemeral: bool({ section, flags: ['--ephemeral'], mkosi: 'ephemeral', default: false, doc: 'shell/boot run on a throwaway snapshot of the image' }),
  Ssh: bool({ section, flags: ['--ssh'], mkosi: 'ssh', default: false, status: 'unsupported', doc: 'Set up ssh access to the image' }),
  SshKey: pathSetting({ section, flags: ['--ssh-key'], mkosi: 'ssh_key', default: null, status: 'unsupported', doc: 'ssh key for the ssh verb' }),
  SshAgent: string<string | null>({
    section,
    flags: ['--ssh-agent'],
    mkosi: 'ssh_agent',
    default: null,
    fromRaw: sshAgentSocket,
    status: 'unsupported',
    doc: 'ssh agent socket for the ssh verb: a path, yes for $SSH_AUTH_SOCK, empty or no for none',
  }),
  SshPort: integer<number>({ section, flags: ['--ssh-port'], mkosi: 'ssh_port', default: 22, status: 'unsupported', doc: 'ssh port' }),
  SshTimeout: integer<number>({ section, flags: ['--ssh-timeout'], mkosi: 'ssh_timeout', default: 0, status: 'unsupported', doc: 'Seconds to wait for ssh' }),
};
