/**
 * dnf: installs into the image with `dnf --installroot` and repository files kiln generates, with
 * mkosi 14's flags. Two things differ on a Debian host and are handled here:
 * - Debian's rpm keeps its database in ~/.rpmdb (Debian bug 1004863), so inside an installroot it
 *   would land in /root/.rpmdb where the image's own rpm never looks. kiln points HOME at a
 *   directory with an .rpmmacros naming the distribution's database path instead of moving the
 *   database afterwards (which would hide it from a later dnf call on the same root).
 * - dnf prefixes its cache directory with the installroot, so the package cache is bound onto the
 *   image's /var/cache/dnf (inside a private mount namespace: see root-namespace.ts).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { UserError } from '../errors.js';
import { run } from '../run.js';
import { runPackageManager } from './tool-failure.js';
import { existsInRoot, mkdirInRoot, resolveInRoot } from '../tree/safe-path.js';
import { renderDnfConf, renderRepoFile, repositoryFlags, sortPackages, type DnfPolicy } from './dnf-repos.js';
import { inRootNamespace } from './root-namespace.js';
import type { PackageManager } from './types.js';

const CACHE = 'var/cache/dnf';
/** dnf's own account of a failure: its "Error:" line, and which packages failed their signature check. */
const REASON = /^(?:Error: (.+)|(Package \S+ is not signed)|Public key for (\S+ is not installed))$/;

function explainSignatures(reasons: readonly string[]): string | undefined {
  if (!reasons.some((reason) => /GPG|signed|public key|signature/i.test(reason))) return undefined;
  return 'RepositoryKeyCheck=yes: every package must be signed with the distribution key kiln found on the host; set RepositoryKeyCheck=no for an unsigned local repository';
}

function policyOf(config: Config): DnfPolicy {
  const distribution = getDistribution(config.Distribution) as Partial<DnfPolicy>;
  if (typeof distribution.dnfRepositories !== 'function') {
    throw new Error(`internal: distribution ${config.Distribution} has no dnf repositories`);
  }
  return distribution as DnfPolicy;
}

function findGpgKey(config: Config, policy: DnfPolicy): string | undefined {
  if (!config.RepositoryKeyCheck) return undefined;
  const candidates = policy.gpgKeyCandidates(config);
  const key = candidates.find((file) => existsSync(file));
  if (!key) {
    throw new UserError(`RepositoryKeyCheck=yes needs the ${config.Distribution} signing key, which this host does not have (looked for ${candidates[0]})`, {
      hint: 'put the key there, or set RepositoryKeyCheck=no for an unsigned local repository',
    });
  }
  return `file://${key}`;
}

interface DnfSetup {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/** Writes dnf.conf, the .repo file and the rpm macros into the workspace; returns dnf's argv and env. */
async function setUp(context: BuildContext): Promise<DnfSetup> {
  const { config } = context;
  const policy = policyOf(config);
  const repositories = policy.dnfRepositories(config);
  if (repositories.length === 0) {
    throw new UserError(`no repository to install ${config.Distribution} from`, { hint: getDistribution(config.Distribution).mirrorHint });
  }
  const gpgKey = findGpgKey(config, policy);
  const dir = path.join(context.workspace, 'dnf');
  const reposDir = path.join(dir, 'repos.d');
  const varsDir = path.join(dir, 'vars');
  const home = path.join(dir, 'home');
  await Promise.all([reposDir, varsDir, home].map((d) => fs.mkdir(d, { recursive: true })));
  await fs.writeFile(path.join(dir, 'dnf.conf'), renderDnfConf({ gpgCheck: gpgKey !== undefined }));
  await fs.writeFile(path.join(reposDir, 'kiln.repo'), renderRepoFile({ repositories, gpgKey }));
  await fs.writeFile(path.join(home, '.rpmmacros'), `%_dbpath /${policy.rpmDatabase(config)}\n`);
  await fs.mkdir(context.packageCache, { recursive: true });

  const argv = [
    'dnf', '-y',
    `--config=${path.join(dir, 'dnf.conf')}`,
    `--installroot=${context.root}`,
    `--releasever=${policy.releasever(config)}`,
    `--setopt=reposdir=${reposDir}`,
    `--setopt=varsdir=${varsDir}`,
    '--setopt=keepcache=1',
    '--setopt=install_weak_deps=0',
    '--noplugins', '--best', '--allowerasing',
    ...repositoryFlags(config.Repositories, repositories),
  ];
  // A file:// mirror needs no network, and cache-only mode would refuse it before its first use.
  if (config.WithNetwork === 'never' && !config.LocalMirror?.startsWith('file:')) argv.push('--cacheonly');
  if (!config.WithDocs) argv.push('--nodocs');
  return { argv, env: { HOME: home, KERNEL_INSTALL_BYPASS: '1', LC_ALL: 'C.UTF-8' } };
}

async function runDnf(context: BuildContext, command: 'install' | 'remove', packages: readonly string[], what: string, hint: string): Promise<void> {
  if (packages.length === 0) return;
  const { argv, env } = await setUp(context);
  const full = await inRootNamespace(context.root, [...argv, command, ...sortPackages(packages)], [
    { source: context.packageCache, imagePath: CACHE },
  ]);
  await runPackageManager(full, { tool: 'dnf', reason: REASON, explain: explainSignatures, what, hint, env, searchPaths: context.config.ExtraSearchPaths });
}

/** Fedora's own compat link: /var/lib/rpm → ../../usr/lib/sysimage/rpm, where nothing else is there. */
async function linkRpmDatabase(context: BuildContext): Promise<void> {
  const database = policyOf(context.config).rpmDatabase(context.config);
  if (database === 'var/lib/rpm' || !(await existsInRoot(context.root, database))) return;
  const link = path.join(await mkdirInRoot(context.root, 'var/lib'), 'rpm');
  if (await fs.lstat(link).catch(() => undefined)) return;
  await fs.symlink(`../../${database}`, link);
}

/** `rpm -qa` in this format; the epoch only where a package has one, nothing cut off. */
const QUERY_FORMAT = '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n';

export function parseRpmList(stdout: string): InstalledPackage[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', version = '', architecture = ''] = line.split('\t');
      // gpg-pubkey entries (imported keys) have no architecture.
      return { type: 'rpm' as const, name, version, architecture: architecture === '(none)' ? '' : architecture };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

export const dnf: PackageManager = {
  name: 'dnf',
  requiredTools: () => ['dnf', 'rpm', 'unshare'],

  async install(context, packages) {
    await runDnf(context, 'install', packages, 'Installing packages with dnf', 'check Packages=, Release= and Mirror= / LocalMirror=; --debug=run shows the full output');
    await linkRpmDatabase(context);
  },

  async installMore(context, packages) {
    await runDnf(context, 'install', packages, 'Installing packages with dnf', 'check the package names');
  },

  async remove(context, packages) {
    await runDnf(context, 'remove', packages, 'Removing packages (RemovePackages=)', 'RemovePackages= must name installed packages');
  },

  async listInstalled(context): Promise<InstalledPackage[]> {
    const database = policyOf(context.config).rpmDatabase(context.config);
    // Resolved inside the image, then given to rpm relative to the root again.
    const dbpath = `/${path.relative(context.root, await resolveInRoot(context.root, database))}`;
    const { stdout } = await run(['rpm', `--root=${context.root}`, `--dbpath=${dbpath}`, '-qa', '--qf', QUERY_FORMAT], {
      stdio: 'pipe',
      what: 'Listing installed packages',
      searchPaths: context.config.ExtraSearchPaths,
    });
    return parseRpmList(stdout);
  },

  cacheMountPoint: CACHE,
};
