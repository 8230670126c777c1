/**
 * `kiln doctor [--install]`: which host tools each distribution, output format and option needs,
 * which of them this host has, and the Debian package of each missing one. The lists are derived
 * from the registries (each package manager's and format's requiredTools(config), the distributions'
 * keyrings), so a new format or distribution shows up here without touching this file.
 * `--install` installs the missing packages with apt-get (those its sources have; the rest is named).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { libraryPaths, tpmLibraries } from '../boot/pcr-signature.js';
import { applyAssignment, type RawState } from '../config/assign.js';
import { detectHost } from '../config/host.js';
import { resolveConfig } from '../config/resolve.js';
import type { Config, SettingName } from '../config/types.js';
import { checkRoot, requiredTools } from '../checks.js';
import { DISTRIBUTIONS } from '../distributions/index.js';
import { UserError } from '../errors.js';
import { offPathDirectories, packageOf, searchPath } from '../host-tools.js';
import { info, warn } from '../log.js';
import { OUTPUTS } from '../outputs/index.js';
import { qemuBinaries } from '../qemu.js';
import { firmwareFiles } from '../vm/firmware.js';
import { run } from '../run.js';
import { findCommand } from '../util/which.js';
import type { Verb } from './types.js';

/** One thing a build runs or reads: any of `alternatives` will do; the first is the one to install. */
export interface Need {
  readonly alternatives: readonly string[];
  /** A file rather than a program (an archive keyring). */
  readonly file?: boolean;
  /** How to call it when its alternatives are too many to list (the UEFI firmware). */
  readonly name?: string;
  readonly package: string | undefined;
  /** What to do when no Debian package has it. */
  readonly hint?: string;
}

export interface NeedGroup {
  readonly label: string;
  readonly needs: readonly Need[];
}

export interface Report {
  readonly groups: readonly { readonly title: string; readonly rows: readonly NeedGroup[] }[];
}

/** Where doctor looks: the search path for programs, and the directory files (keyrings) are under. */
export interface Probe {
  readonly path: string;
  readonly root: string;
}

const hostProbe = (): Probe => ({ path: searchPath(), root: '/' });

type Settings = Partial<Record<SettingName, string>>;

/** A configuration as if these settings were written in an mkosi.default (and nothing else). */
export function configWith(settings: Settings): Config {
  const state: RawState = new Map();
  for (const [name, raw] of Object.entries(settings)) {
    applyAssignment(state, { name: name as SettingName, raw, invert: false, origin: { file: 'kiln doctor' }, spelling: `${name}=` }, { baseDir: '/' });
  }
  // A directory with no mkosi.* files in it, so nothing is auto-detected.
  return resolveConfig({ state, directory: '/nonexistent/kiln-doctor', host: detectHost(), env: process.env }).config;
}

const tool = (name: string): Need => ({ alternatives: [name], package: packageOf(name) });
const minus = (tools: readonly string[], base: readonly string[]): string[] => tools.filter((t) => !base.includes(t));

/** Debian and Ubuntu take either bootstrapper; the package managers say which tools each needs. */
function distributionNeeds(name: string): Need[] {
  const distribution = DISTRIBUTIONS[name as keyof typeof DISTRIBUTIONS];
  const tools = requiredTools(configWith({ Distribution: name, Format: 'directory', Bootstrapper: 'mmdebstrap' }));
  const needs = tools.map((t) => {
    if (t !== 'mmdebstrap') return tool(t);
    const other = requiredTools(configWith({ Distribution: name, Format: 'directory', Bootstrapper: 'debootstrap' }));
    return { alternatives: ['mmdebstrap', ...minus(other, tools)], package: packageOf('mmdebstrap') };
  });
  const keyring = distribution.keyring;
  if (keyring) needs.push({ alternatives: [keyring.file], file: true, package: keyring.package, hint: keyring.hint });
  return needs;
}

/** What each format adds to a plain directory build of the host's distribution. */
function formatNeeds(format: string, base: readonly string[]): Need[] {
  return minus(requiredTools(configWith({ Distribution: 'debian', Format: format })), base).map(tool);
}

/** Each option's tools beyond those of `base` (a tar build unless said otherwise). */
const OPTIONS: readonly { readonly label: string; readonly settings: Settings; readonly base?: Settings; readonly more?: () => Need[] }[] = [
  { label: 'CompressOutput=zstd', settings: { Format: 'tar', CompressOutput: 'zstd' } },
  { label: 'CompressOutput=gz', settings: { Format: 'tar', CompressOutput: 'gz' } },
  { label: 'Sign=yes', settings: { Format: 'tar', Sign: 'yes' } },
  { label: 'SourceFileTransfer=copy-git-*', settings: { Format: 'tar', BuildScript: '/mkosi.build', SourceFileTransfer: 'copy-git-others' } },
  { label: 'Bootable=yes', settings: { Format: 'gpt_ext4', Bootable: 'yes' }, base: { Format: 'gpt_ext4' } },
  { label: 'Ssh=yes, Netdev=yes', settings: { Format: 'tar', Ssh: 'yes', Netdev: 'yes' } },
  { label: 'Verity=signed', settings: { Format: 'gpt_ext4', Verity: 'signed' }, base: { Format: 'gpt_ext4' } },
  { label: 'Encrypt=', settings: { Format: 'gpt_ext4', Encrypt: 'all' }, base: { Format: 'gpt_ext4' } },
  { label: 'BMap=yes', settings: { Format: 'gpt_ext4', BMap: 'yes' }, base: { Format: 'gpt_ext4' } },
  { label: 'Minimize=yes', settings: { Format: 'gpt_ext4', Minimize: 'yes' }, base: { Format: 'gpt_ext4' } },
  { label: 'SecureBoot=yes', settings: { Format: 'gpt_ext4', Bootable: 'yes', SecureBoot: 'yes', SignExpectedPCR: 'no' }, base: { Format: 'gpt_ext4', Bootable: 'yes' } },
  {
    label: 'SignExpectedPCR=yes',
    settings: { Format: 'gpt_ext4', Bootable: 'yes', SecureBoot: 'yes', SignExpectedPCR: 'yes' },
    base: { Format: 'gpt_ext4', Bootable: 'yes', SecureBoot: 'yes', SignExpectedPCR: 'no' },
    // systemd-measure loads these with dlopen(), so no package pulls them in.
    more: () => tpmLibraries().map((library) => ({ alternatives: libraryPaths(library.name), file: true, name: library.name, package: library.package })),
  },
];

/** Options that build without these tools, only slower: kiln uses them where it finds them. */
const SPEEDUPS: readonly { readonly label: string; readonly tools: readonly string[] }[] = [
  // src/cache/spare.ts: a rebuild brings the image it replaces up to date instead of copying the root.
  { label: 'Incremental=yes, directory', tools: ['rsync'] },
];

/** Programs that run what kiln built, for trying an image out (the README's steps, kiln's own tests). */
const RUNNERS: readonly { readonly label: string; readonly tools: readonly string[] }[] = [
  { label: 'lxc images', tools: ['lxc-create', 'lxc-start', 'lxc-attach'] },
];

/** What `kiln qemu` and `kiln ssh` run (they build nothing themselves). */
function verbNeeds(): NeedGroup[] {
  const architecture = detectHost().architecture;
  const qemu = qemuBinaries(architecture).reverse();
  return [
    {
      label: 'kiln qemu',
      needs: [
        { alternatives: qemu, package: packageOf(qemu[0]!) },
        { alternatives: firmwareFiles(architecture), file: true, name: 'UEFI firmware (OVMF)', package: architecture === 'aarch64' ? 'qemu-efi-aarch64' : 'ovmf' },
        ...['mdir', 'objcopy'].map(tool),
      ],
    },
    { label: 'kiln ssh', needs: [tool('ssh')] },
  ];
}

export function buildReport(): Report {
  const base = requiredTools(configWith({ Distribution: 'debian', Format: 'directory' }));
  const tarBase = requiredTools(configWith({ Distribution: 'debian', Format: 'tar' }));
  return {
    groups: [
      { title: 'Distributions', rows: Object.keys(DISTRIBUTIONS).map((name) => ({ label: name, needs: distributionNeeds(name) })) },
      { title: 'Output formats (beyond the distribution\'s tools)', rows: Object.keys(OUTPUTS).map((name) => ({ label: name, needs: formatNeeds(name, base) })) },
      {
        title: 'Options',
        rows: OPTIONS.map(({ label, settings, base, more }) => {
          const without = base ? requiredTools(configWith({ Distribution: 'debian', ...base })) : tarBase;
          return { label, needs: [...minus(requiredTools(configWith({ Distribution: 'debian', ...settings })), without).map(tool), ...(more?.() ?? [])] };
        }).concat(SPEEDUPS.map(({ label, tools }) => ({ label, needs: tools.map(tool) }))),
      },
      {
        title: 'Running the images (to try them out)',
        rows: [...RUNNERS.map(({ label, tools }) => ({ label, needs: tools.map(tool) })), ...verbNeeds()],
      },
    ],
  };
}

export function isPresent(need: Need, probe: Probe = hostProbe()): boolean {
  return need.alternatives.some((name) =>
    need.file ? existsSync(path.join(probe.root, name)) : findCommand(name, { PATH: [probe.path, ...offPathDirectories(name).map((dir) => path.join(probe.root, dir))].join(':') }) !== undefined,
  );
}

function describeNeed(need: Need, probe: Probe): string {
  const name = need.name ?? (need.alternatives.length > 1 ? `${need.alternatives[0]} (or ${need.alternatives.slice(1).join(', ')})` : need.alternatives[0]!);
  if (isPresent(need, probe)) return `✓ ${name}`;
  return `✗ ${name}${need.package ? ` [apt-get install ${need.package}]` : ' [see below]'}`;
}

export function formatReport(report: Report, probe: Probe = hostProbe()): string {
  const width = Math.max(...report.groups.flatMap((group) => group.rows.map((row) => row.label.length))) + 2;
  const lines = ['Host tools kiln runs, by what needs them (✓ found, ✗ missing [the Debian package that has it]):'];
  for (const group of report.groups) {
    lines.push('', `${group.title}:`);
    for (const row of group.rows) {
      lines.push(`  ${row.label.padEnd(width)}${row.needs.length === 0 ? '(nothing more)' : row.needs.map((need) => describeNeed(need, probe)).join('  ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

interface Missing {
  /** The missing needs, once each. */
  readonly missing: string[];
  /** The packages that bring them. */
  readonly packages: string[];
  /** For those no package brings: what to do instead, one line each. */
  readonly unpackaged: string[];
}

export function missingPackages(report: Report, probe: Probe = hostProbe()): Missing {
  const needs = report.groups.flatMap((group) => group.rows.flatMap((row) => row.needs)).filter((need) => !isPresent(need, probe));
  const missing = [...new Set(needs.map((need) => need.name ?? need.alternatives[0]!))];
  const packages = [...new Set(needs.map((need) => need.package).filter((p): p is string => p !== undefined))];
  const unpackaged = [...new Set(needs.filter((need) => need.package === undefined).map((need) => `No Debian 12 package has ${need.name ?? need.alternatives[0]}: ${need.hint ?? 'install it by hand'}`))];
  return { missing, packages, unpackaged };
}

/** What follows the table when nothing is installed: what is missing and how to get it; the exit status. */
export function verdict(report: Report, probe: Probe = hostProbe()): { text: string; status: 0 | 1 } {
  const { missing, packages, unpackaged } = missingPackages(report, probe);
  if (missing.length === 0) return { text: '\nEverything kiln can use is here.\n', status: 0 };
  const lines = ['', `Missing: ${missing.join(', ')}`];
  if (packages.length > 0) lines.push(`Install with: apt-get install ${packages.join(' ')}   (or: sudo kiln doctor --install)`);
  lines.push(...unpackaged);
  return { text: `${lines.join('\n')}\n`, status: 1 };
}

/** Packages apt has no candidate for in `apt-cache policy` output (not in this host's sources). */
export function withoutCandidate(policy: string): string[] {
  const none: string[] = [];
  let current: string | undefined;
  for (const line of policy.split('\n')) {
    const name = /^(\S+):$/.exec(line)?.[1];
    if (name) current = name;
    else if (current && /^\s+Candidate: \(none\)$/.test(line)) none.push(current);
  }
  return none;
}

/** apt-gets what its sources have; returns the packages they do not have. */
async function install(packages: readonly string[]): Promise<string[]> {
  checkRoot('doctor --install');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run(['apt-get', 'update'], { stdio: 'inherit', env, what: 'Updating the package lists (apt-get update)' });
  const policy = await run(['apt-cache', 'policy', ...packages], { stdio: 'pipe', read: true, env, what: 'Asking apt for the packages' });
  const unavailable = withoutCandidate(policy.stdout);
  const available = packages.filter((name) => !unavailable.includes(name));
  if (available.length > 0) {
    info(`installing ${available.join(' ')} with apt-get`);
    await run(['apt-get', 'install', '-y', '--no-install-recommends', ...available], { stdio: 'inherit', env, what: `Installing ${available.join(' ')}` });
  }
  return unavailable;
}

export const doctor: Verb = {
  doc: 'Show the host tools each distribution and format needs, which are missing and their packages (--install: apt-get them)',
  origin: 'kiln',
  async run(invocation) {
    const report = buildReport();
    process.stdout.write(formatReport(report));
    const before = missingPackages(report);
    if (before.packages.length > 0 && invocation.args.install) {
      const unavailable = await install(before.packages);
      const { missing, packages, unpackaged } = missingPackages(buildReport());
      const leftover = packages.filter((name) => !unavailable.includes(name));
      if (leftover.length > 0) throw new UserError(`still missing after apt-get install: ${missing.join(', ')}`, { hint: 'see apt-get\'s output above' });
      for (const name of unavailable) warn(`${name} is not in this host's apt sources (it is needed for what is marked ✗ above)`);
      const lines = missing.length === 0 ? ['Everything kiln can use is here now.'] : [`Installed what apt has; still missing: ${missing.join(', ')}`, ...unpackaged];
      process.stdout.write(`\n${lines.join('\n')}\n`);
      return 0;
    }
    // Nothing apt could install (or no --install): say what is missing and how to get it.
    const { text, status } = verdict(report);
    process.stdout.write(text);
    return status;
  },
};
