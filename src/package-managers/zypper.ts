/**
 * zypper: installs into the image with `zypper --root` from the repositories kiln writes into the
 * workspace (--reposd-dir), with mkosi 14's flags. As for dnf, Debian's rpm is told where the
 * image's database lives through an .rpmmacros in a private HOME, and the package cache is bound onto
 * the image's /var/cache/zypp/packages inside the private mount namespace.
 *
 * The image keeps what mkosi 14 leaves in it: Mirror='s repositories in /etc/zypp/repos.d (never the
 * LocalMirror= of the build), and with WithDocs=no the zypp.conf line that keeps documentation out.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { mkdirInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { rpmPolicyOf } from './dnf.js';
import { linkRpmDatabase, listRpmPackages } from './rpm-database.js';
import { renderRepoFile, sortPackages, writeRepositories } from './rpm-repos.js';
import { inRootNamespace } from './root-namespace.js';
import { runPackageManager } from './tool-failure.js';
import type { PackageManager } from './types.js';

const CACHE = 'var/cache/zypp/packages';
const EXCLUDE_DOCS = '[main]\nrpm.install.excludedocs = yes\n';
/** zypper's own account of a failure. */
const REASON = /^(Package '.+' not found\.|No provider of '.+' found\.|Problem: .+|Repository '.+' is invalid\.|Signature verification failed .+|.+ is unsigned, verify failed\.?)$/;

function explainSignatures(reasons: readonly string[]): string | undefined {
  if (!reasons.some((reason) => /signature|unsigned/i.test(reason))) return undefined;
  return 'RepositoryKeyCheck=yes: every package must be signed; set RepositoryKeyCheck=no for an unsigned local repository';
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
  // keeppackages: the downloads stay in the package cache for the next build.
  await writeRepositories(config, policy, reposDir, {
    hint: getDistribution(config.Distribution).mirrorHint,
    extra: { autorefresh: 0, keeppackages: 1, type: 'rpm-md' },
    enabled: config.Repositories,
  });
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(path.join(home, '.rpmmacros'), `%_dbpath /${policy.rpmDatabase(config)}\n`);
  const zyppConf = path.join(dir, 'zypp.conf');
  await fs.writeFile(zyppConf, config.WithDocs ? '[main]\n' : EXCLUDE_DOCS);
  await fs.mkdir(context.packageCache, { recursive: true });
  const argv = [
    'zypper', '--non-interactive',
    `--root=${context.root}`,
    `--reposd-dir=${reposDir}`,
    config.RepositoryKeyCheck ? '--gpg-auto-import-keys' : '--no-gpg-checks',
  ];
  return { argv, env: { HOME: home, ZYPP_CONF: zyppConf, LC_ALL: 'C.UTF-8' } };
}

/** One database for both paths: created before zypper runs, with the distribution's compat link. */
async function prepareDatabase(context: BuildContext): Promise<void> {
  const database = rpmPolicyOf(context.config).rpmDatabase(context.config);
  await mkdirInRoot(context.root, database, 0o755);
  await linkRpmDatabase(context.root, database);
}

async function runZypper(context: BuildContext, command: readonly string[], packages: readonly string[], what: string, hint: string): Promise<void> {
  if (packages.length === 0) return;
  const { argv, env } = await setUp(context);
  const full = await inRootNamespace(context.root, [...argv, ...command, ...sortPackages(packages)], [
    { source: context.packageCache, imagePath: CACHE },
  ]);
  await runPackageManager(full, { tool: 'zypper', reason: REASON, explain: explainSignatures, what, hint, env, searchPaths: context.config.ExtraSearchPaths });
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

  cacheMountPoint: CACHE,
};
