/**
 * zypper: installs into the image with `zypper --root` from the repositories kiln writes into the
 * workspace (--reposd-dir), with mkosi 14's flags. As for dnf, Debian's rpm is told where the
 * image's database lives through an .rpmmacros in a private HOME, and the package cache holds what
 * zypper downloads — packages and repository metadata, bound onto the image's /var/cache/zypp/packages
 * and /var/cache/zypp/raw inside the private mount namespace — so a later build downloads only what
 * changed, and WithNetwork=never can build from it alone.
 *
 * WithNetwork=never (where mkosi 14 let zypper use the network anyway): zypper runs without a network
 * and with --no-refresh, so it uses the metadata and packages of earlier builds, as dnf's cache-only
 * mode does; a file:// LocalMirror= is still read afresh, for it needs no network.
 *
 * The image keeps what mkosi 14 leaves in it: Mirror='s repositories in /etc/zypp/repos.d (never the
 * LocalMirror= of the build), and with WithDocs=no the zypp.conf line that keeps documentation out.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { withPackageCache } from '../cache/package-cache.js';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { epochEnvironment } from '../reproducible.js';
import { mkdirInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { rpmPolicyOf } from './dnf.js';
import { linkRpmDatabase, listRpmPackages, rpmChangelogs } from './rpm-database.js';
import { renderRepoFile, sortPackages, writeRepositories } from './rpm-repos.js';
import { inRootNamespace } from './root-namespace.js';
import { runPackageManager } from './tool-failure.js';
import type { PackageManager } from './types.js';

const CACHE = 'var/cache/zypp';
/** The parts of zypper's cache kept between builds: the solver's own (solv) is made from raw. */
const KEPT = ['packages', 'raw'];
const EXCLUDE_DOCS = '[main]\nrpm.install.excludedocs = yes\n';
/** zypper's own account of a failure. */
const REASON =
  /^(Package '.+' not found\.|No provider of '.+' found\.|Problem: .+|Repository '.+' is invalid\.|Signature verification failed .+|.+ is unsigned, verify failed\.?|Download \(curl\) error for '[^']+')/;

function explainFailure(config: Config, packageCache: string): (reasons: readonly string[]) => string | undefined {
  return (reasons) => {
    if (config.WithNetwork === 'never' && reasons.some((reason) => reason.startsWith('Download'))) {
      return `WithNetwork=never: zypper may use only what earlier builds left in the package cache (${packageCache}); build once without it to fill the cache`;
    }
    if (!reasons.some((reason) => /signature|unsigned/i.test(reason))) return undefined;
    return 'RepositoryKeyCheck=yes: every package must be signed; set RepositoryKeyCheck=no for an unsigned local repository';
  };
}

/** Offline: no network, and no refresh of repository metadata (but of a local directory's). */
function isOffline(config: Config): { offline: boolean; refresh: boolean } {
  const offline = config.WithNetwork === 'never';
  return { offline, refresh: !offline || (config.LocalMirror?.startsWith('file:') ?? false) };
}

interface ZypperSetup {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

async function setUp(context: BuildContext): Promise<ZypperSetup> {
  const { config } = context;
  const policy = rpmPolicyOf(config);
  const dir = path.join(context.workspace, 'zypper');
  const reposDir = path.join(dir, 'repos.d');
  const home = path.join(dir, 'home');
  // keeppackages: the downloads stay in the package cache for the next build; autorefresh: the
  // metadata kept there is brought up to date (unless offline).
  await writeRepositories(config, policy, reposDir, {
    hint: getDistribution(config.Distribution).mirrorHint,
    extra: { autorefresh: 1, keeppackages: 1, type: 'rpm-md' },
    enabled: config.Repositories,
    copyRepositoryDirectory: true,
  });
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(path.join(home, '.rpmmacros'), `%_dbpath /${policy.rpmDatabase(config)}\n`);
  const zyppConf = path.join(dir, 'zypp.conf');
  // No refresh delay: zypper would otherwise trust metadata kept in the cache for ten minutes.
  await fs.writeFile(zyppConf, `${config.WithDocs ? '[main]\n' : EXCLUDE_DOCS}repo.refresh.delay = 0\n`);
  await Promise.all(KEPT.map((part) => fs.mkdir(path.join(context.packageCache, part), { recursive: true })));
  const argv = [
    'zypper', '--non-interactive',
    `--root=${context.root}`,
    `--reposd-dir=${reposDir}`,
    config.RepositoryKeyCheck ? '--gpg-auto-import-keys' : '--no-gpg-checks',
    ...(isOffline(config).refresh ? [] : ['--no-refresh']),
  ];
  return { argv, env: { HOME: home, ZYPP_CONF: zyppConf, LC_ALL: 'C.UTF-8', ...epochEnvironment(context.reproducibility.epoch) } };
}

/** One database for both paths: created before zypper runs, with the distribution's compat link. */
async function prepareDatabase(context: BuildContext): Promise<void> {
  const database = rpmPolicyOf(context.config).rpmDatabase(context.config);
  await mkdirInRoot(context.root, database, 0o755);
  await linkRpmDatabase(context.root, database);
}

async function runZypper(context: BuildContext, command: readonly string[], packages: readonly string[], what: string, hint: string): Promise<void> {
  if (packages.length === 0) return;
  const { config } = context;
  const { argv, env } = await setUp(context);
  const binds = KEPT.map((part) => ({ source: path.join(context.packageCache, part), imagePath: `${CACHE}/${part}` }));
  const full = await inRootNamespace(context.root, [...argv, ...command, ...sortPackages(packages)], binds, { offline: isOffline(config).offline });
  const explain = explainFailure(config, context.packageCache);
  // zypper writes its downloads and metadata into the shared cache in place: one build at a time.
  await withPackageCache(context.packageCache, () =>
    runPackageManager(full, { tool: 'zypper', reason: REASON, explain, what, hint, env, searchPaths: config.ExtraSearchPaths }),
    context.cleanup,
  );
}

/** What mkosi 14 leaves in the image: Mirror='s repositories (without caching) and the docs setting. */
async function configureImage(context: BuildContext): Promise<void> {
  const { config } = context;
  if (!config.WithDocs) await writeFileInRoot(context.root, 'etc/zypp/zypp.conf', EXCLUDE_DOCS);
  if (!config.Mirror) return;
  const policy = rpmPolicyOf(config);
  const repositories = policy.rpmRepositories({ ...config, LocalMirror: null });
  const file = renderRepoFile(
    repositories.map((repository) => ({ repository, gpgCheck: config.RepositoryKeyCheck })),
    { autorefresh: 1, keeppackages: 0, type: 'rpm-md' },
  );
  await writeFileInRoot(context.root, 'etc/zypp/repos.d/kiln.repo', file);
}

const INSTALL = ['install', '-y', '--no-recommends', '--download-in-advance'];

export const zypper: PackageManager = {
  name: 'zypper',
  requiredTools: () => ['zypper', 'rpm', 'unshare'],

  async install(context, packages) {
    await prepareDatabase(context);
    await runZypper(context, INSTALL, packages, 'Installing packages with zypper', 'check Packages=, Release= and Mirror= / LocalMirror=; --debug=run shows the full output');
    await configureImage(context);
  },

  async installMore(context, packages) {
    await runZypper(context, INSTALL, packages, 'Installing packages with zypper', 'check the package names');
  },

  async remove(context, packages) {
    await runZypper(context, ['remove', '-y'], packages, 'Removing packages (RemovePackages=)', 'RemovePackages= must name installed packages');
  },

  listInstalled: (context) => listRpmPackages(context, rpmPolicyOf(context.config).rpmDatabase(context.config)),

  changelogs: (context, packages) => rpmChangelogs(context, rpmPolicyOf(context.config).rpmDatabase(context.config), packages),

  cacheMountPoint: CACHE,
};
