/**
 * dnf: installs into the image with `dnf --installroot` and repository files kiln generates, with
 * mkosi 14's flags. Two things differ on a Debian host and are handled here:
 * - Debian's rpm keeps its database in ~/.rpmdb (Debian bug 1004863), so inside an installroot it
 *   would land in /root/.rpmdb where the image's own rpm never looks. kiln points HOME at a
 *   directory with an .rpmmacros naming the distribution's database path instead of moving the
 *   database afterwards (which would hide it from a later dnf call on the same root).
 * - dnf prefixes its cache directory with the installroot, so the package cache is bound onto the
 *   image's /var/cache/dnf (inside a private mount namespace: see root-namespace.ts).
 * Where the image's rpm cannot write what the host's rpm wrote (CentOS 8), the database changes
 * format around each run: see rpm-backend.ts.
 * dnf writes its downloads and metadata into that cache in place. Its own locks are pid files,
 * useless here: in the PID namespace every dnf is pid 1 and takes another's lock for its own. So
 * builds sharing a cache run dnf one at a time, under the package cache's lock.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { withPackageCache } from '../cache/package-cache.js';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { epochEnvironment } from '../reproducible.js';
import { rebuildForHost, rebuildForImage } from './rpm-backend.js';
import { runPackageManager } from './tool-failure.js';
import { linkRpmDatabase, listRpmPackages, rpmChangelogs } from './rpm-database.js';
import { renderDnfConf, repositoryFlags, sortPackages, writeRepositories, type RpmPolicy } from './rpm-repos.js';
import { inRootNamespace } from './root-namespace.js';
import type { PackageManager } from './types.js';

const CACHE = 'var/cache/dnf';
/** dnf's own account of a failure: its "Error:" line, and which packages failed their signature check. */
const REASON = /^(?:Error: (.+)|(Package \S+ is not signed)|Public key for (\S+ is not installed))$/;

function explainSignatures(reasons: readonly string[]): string | undefined {
  if (!reasons.some((reason) => /GPG|signed|public key|signature/i.test(reason))) return undefined;
  return 'RepositoryKeyCheck=yes: every package must be signed with the distribution key kiln found on the host; set RepositoryKeyCheck=no for an unsigned local repository';
}

/** The RPM policy of the configured distribution (fedora, centos…, mageia, openmandriva, opensuse). */
export function rpmPolicyOf(config: Config): RpmPolicy {
  const distribution = getDistribution(config.Distribution) as Partial<RpmPolicy>;
  if (typeof distribution.rpmRepositories !== 'function') {
    throw new Error(`internal: distribution ${config.Distribution} has no RPM repositories`);
  }
  return distribution as RpmPolicy;
}

interface DnfSetup {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/** Writes dnf.conf, the .repo file and the rpm macros into the workspace; returns dnf's argv and env. */
async function setUp(context: BuildContext): Promise<DnfSetup> {
  const { config } = context;
  const policy = rpmPolicyOf(config);
  const dir = path.join(context.workspace, 'dnf');
  const reposDir = path.join(dir, 'repos.d');
  const varsDir = path.join(dir, 'vars');
  const home = path.join(dir, 'home');
  // UseHostRepositories=: dnf's own reposdir, whose ids kiln does not know.
  const ids = config.UseHostRepositories ? undefined : await writeRepositories(config, policy, reposDir, { hint: getDistribution(config.Distribution).mirrorHint });
  await Promise.all([varsDir, home].map((d) => fs.mkdir(d, { recursive: true })));
  for (const [name, value] of Object.entries(policy.dnfVariables?.(config) ?? {})) await fs.writeFile(path.join(varsDir, name), `${value}\n`);
  await fs.writeFile(path.join(dir, 'dnf.conf'), renderDnfConf({ gpgCheck: config.RepositoryKeyCheck }));
  await fs.writeFile(path.join(home, '.rpmmacros'), `%_dbpath /${policy.rpmDatabase(config)}\n`);
  await fs.mkdir(context.packageCache, { recursive: true });

  const argv = [
    'dnf', '-y',
    `--config=${path.join(dir, 'dnf.conf')}`,
    `--installroot=${context.root}`,
    `--releasever=${policy.releasever(config)}`,
    // mkosi 14: kiln's repositories and RepositoryDirectory=; or, with UseHostRepositories=, dnf's
    // own reposdir (the image's /etc/yum.repos.d when it has one, else the host's).
    ...(config.UseHostRepositories ? [] : [`--setopt=reposdir=${[reposDir, ...(config.RepositoryDirectory ? [config.RepositoryDirectory] : [])].join(',')}`]),
    `--setopt=varsdir=${varsDir}`,
    '--setopt=keepcache=1',
    '--setopt=install_weak_deps=0',
    '--noplugins', '--best', '--allowerasing',
    ...repositoryFlags(config.Repositories, ids),
  ];
  // A file:// mirror needs no network, and cache-only mode would refuse it before its first use.
  if (config.WithNetwork === 'never' && !config.LocalMirror?.startsWith('file:')) argv.push('--cacheonly');
  if (!config.WithDocs) argv.push('--nodocs');
  return { argv, env: { HOME: home, KERNEL_INSTALL_BYPASS: '1', LC_ALL: 'C.UTF-8', ...epochEnvironment(context.reproducibility.epoch) } };
}

async function runDnf(context: BuildContext, command: 'install' | 'remove', packages: readonly string[], what: string, hint: string): Promise<void> {
  if (packages.length === 0) return;
  const { config } = context;
  const policy = rpmPolicyOf(config);
  const backend = policy.imageDatabaseBackend?.(config);
  if (backend) await rebuildForHost(context, policy.rpmDatabase(config));
  const { argv, env } = await setUp(context);
  const full = await inRootNamespace(context.root, [...argv, command, ...sortPackages(packages)], [
    { source: context.packageCache, imagePath: CACHE },
  ]);
  await withPackageCache(context.packageCache, () =>
    runPackageManager(full, { tool: 'dnf', reason: REASON, explain: explainSignatures, what, hint, env, searchPaths: config.ExtraSearchPaths }),
    context.cleanup,
  );
  if (backend) await rebuildForImage(context, backend);
}

export const dnf: PackageManager = {
  name: 'dnf',
  // systemd-nspawn: the image's rpm rebuilds the database in the image (CentOS 8).
  requiredTools: (config) => ['dnf', 'rpm', 'unshare', ...(rpmPolicyOf(config).imageDatabaseBackend?.(config) ? ['systemd-nspawn'] : [])],

  async install(context, packages) {
    await runDnf(context, 'install', packages, 'Installing packages with dnf', 'check Packages=, Release= and Mirror= / LocalMirror=; --debug=run shows the full output');
    await linkRpmDatabase(context.root, rpmPolicyOf(context.config).rpmDatabase(context.config));
  },

  async installMore(context, packages) {
    await runDnf(context, 'install', packages, 'Installing packages with dnf', 'check the package names');
  },

  async remove(context, packages) {
    await runDnf(context, 'remove', packages, 'Removing packages (RemovePackages=)', 'RemovePackages= must name installed packages');
  },

  listInstalled: (context) => listRpmPackages(context, rpmPolicyOf(context.config).rpmDatabase(context.config)),

  changelogs: (context, packages) => rpmChangelogs(context, rpmPolicyOf(context.config).rpmDatabase(context.config), packages),

  cacheMountPoint: CACHE,
};
