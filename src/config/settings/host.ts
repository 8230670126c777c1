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
  QemuHeadless: bool({
    section,
    flags: ['--qemu-headless'],
    mkosi: 'qemu_headless',
    default: false,
    doc: 'kiln qemu shows the serial console in the terminal, no window; the image gets console=ttyS0',
  }),
  QemuSmp: string<string>({ section, flags: ['--qemu-smp'], mkosi: 'qemu_smp', default: '1', doc: 'CPUs of the kiln qemu machine (qemu -smp)' }),
  QemuMem: string<string>({ section, flags: ['--qemu-mem'], mkosi: 'qemu_mem', default: '1G', doc: 'Memory of the kiln qemu machine (qemu -m)' }),
  QemuKvm: bool({
    section,
    flags: ['--qemu-kvm'],
    mkosi: 'qemu_kvm',
    default: (context) => context.host.kvm,
    doc: 'Run kiln qemu with KVM (default: when /dev/kvm can run the UEFI firmware, else software emulation)',
  }),
  QemuArgs: list({ section, flags: ['--qemu-args'], mkosi: 'qemu_args', delimiter: ' ', dedupe: false, doc: 'More arguments for qemu (kiln qemu)' }),
  QemuBoot: enumeration<'uefi' | 'linux', 'uefi' | 'linux'>(['uefi', 'linux'], {
    section,
    flags: ['--qemu-boot'],
    mkosi: 'qemu_boot',
    default: 'uefi',
    doc: 'How kiln qemu boots: uefi (firmware and systemd-boot), or linux (the image\'s kernel and initrd directly)',
  }),
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
    doc: 'A network link for kiln qemu (user networking, or a tap link) and kiln boot (a veth link), configured by networkd in the image',
  }),
  Ephemeral: bool({ section, flags: ['--ephemeral'], mkosi: 'ephemeral', default: false, doc: 'shell, boot and qemu run on a throwaway copy of the image' }),
  Ssh: bool({ section, flags: ['--ssh'], mkosi: 'ssh', default: false, doc: 'An ssh server in the image that root logs in to with kiln ssh\'s key' }),
  SshKey: pathSetting({
    section,
    flags: ['--ssh-key'],
    mkosi: 'ssh_key',
    default: null,
    doc: 'Private key for kiln ssh; KEY.pub goes into the image (default: a key kiln makes in the cache directory)',
  }),
  SshAgent: string<string | null>({
    section,
    flags: ['--ssh-agent'],
    mkosi: 'ssh_agent',
    default: null,
    fromRaw: sshAgentSocket,
    doc: 'ssh agent socket for the ssh verb: a path, yes for $SSH_AUTH_SOCK, empty or no for none',
  }),
  SshPort: integer<number>({ section, flags: ['--ssh-port'], mkosi: 'ssh_port', default: 22, doc: 'Port of the ssh server in the image' }),
  SshTimeout: integer<number>({ section, flags: ['--ssh-timeout'], mkosi: 'ssh_timeout', default: 0, doc: 'Seconds kiln ssh waits for the machine started by kiln qemu and its ssh server (0: they must be there at once)' }),
};
