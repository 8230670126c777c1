/**
 * pacman: packages are installed with pacman --root (RootDir in a pacman.conf kiln generates) and
 * downloaded into the package cache outside the image.
 *
 * kiln does what pacstrap does (create pacman's directories, mount the API file systems, run pacman
 * in a PID namespace) itself, in root-namespace.ts, because pacstrap as such is less robust here:
 * - it mounts the host's devtmpfs on the image's /dev, so any scriptlet can remove or write the
 *   host's device nodes; kiln's namespace gives the image a private /dev with the basic nodes only;
 * - its mounts live in the caller's mount namespace and go away only through a shell EXIT trap,
 *   and its pacman outlives it when it is killed (measured: an interrupted build left pacman and a
 *   scriptlet running); in kiln's namespace the kernel ends both with the namespace;
 * - it copies the host's keyring (with its secret key) and mirrorlist into the image unless told not to.
 * Install and removal go through the same namespace.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { groupBySource } from '../artifacts/changelog.js';
import { publishPackages, withPackageCache, type PackageFilter } from '../cache/package-cache.js';
import type { Config } from '../config/types.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { ToolError, UserError } from '../errors.js';
import { warn } from '../log.js';
import { epochEnvironment } from '../reproducible.js';
import { mkdirInRoot, resolveInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { parseArchRepositories, renderPacmanConf, type PacmanPolicy } from './pacman-conf.js';
import { inRootNamespace } from './root-namespace.js';
import { runPackageManager } from './tool-failure.js';
import type { PackageManager } from './types.js';

/** The host keyring pacman verifies signatures with (pacman-key --init, --populate archlinux). */
export const HOST_KEYRING = '/etc/pacman.d/gnupg';

const ENV = { KERNEL_INSTALL_BYPASS: '1', LC_ALL: 'C' };
/** How pacman states why it failed (sometimes after a prompt it answered on the same line). */
const REASON = /(?:^|\s)error: (.+)$/;
/** A cached file with the name of a package but other content (a local repository rebuilt in place). */
const STALE_CACHE = /corrupted package \(checksum\)/;

function explainSignatures(reasons: readonly string[]): string | undefined {
  if (!reasons.some((reason) => /\.sig\b|signature|keyring|key missing|PGP/i.test(reason))) return undefined;
  return `RepositoryKeyCheck=yes: every package must be signed by a key the keyring in ${HOST_KEYRING} trusts; set RepositoryKeyCheck=no for an unsigned local repository`;
}

function policyOf(config: Config): PacmanPolicy {
  const distribution = getDistribution(config.Distribution) as Partial<PacmanPolicy>;
  if (typeof distribution.pacmanRepositories !== 'function' || typeof distribution.mirrorList !== 'function') {
    throw new Error(`internal: distribution ${config.Distribution} has no pacman repositories`);
  }
  return distribution as PacmanPolicy;
}

/** Writes pacman.conf into the workspace (never into the image) and returns its path. */
async function writeConf(context: BuildContext): Promise<string> {
  const { config } = context;
  const repositories = policyOf(config).pacmanRepositories(config);
  const extraRepositories = parseArchRepositories(config.Repositories, config.RepositoryKeyCheck);
  if (repositories.length + extraRepositories.length === 0 && config.RepositoryDirectory === null) throw new UserError('no repository to install Arch Linux from', { hint: getDistribution(config.Distribution).mirrorHint });
  if (config.RepositoryKeyCheck && !existsSync(HOST_KEYRING)) {
    throw new UserError(`RepositoryKeyCheck=yes needs the Arch Linux keyring in ${HOST_KEYRING}, which this host does not have`, {
      hint: 'apt-get install archlinux-keyring, then pacman-key --init && pacman-key --populate archlinux; or set RepositoryKeyCheck=no for an unsigned local repository',
    });
  }
  const file = path.join(context.workspace, 'pacman.conf');
  const text = renderPacmanConf({
    root: context.root,
    cacheDirectories: [downloadDirectory(context), context.packageCache],
    gpgDirectory: HOST_KEYRING,
    architecture: config.Architecture,
    keyCheck: config.RepositoryKeyCheck,
    withDocs: config.WithDocs,
    repositories,
    includeDirectory: config.RepositoryDirectory,
    extraRepositories,
  });
  await fs.mkdir(context.workspace, { recursive: true });
  await fs.writeFile(file, text, { mode: 0o644 });
  return file;
}

/** Directories pacman needs in the image before its first run (pacstrap makes the same). */
const PACMAN_DIRECTORIES = ['var/lib/pacman', 'var/cache/pacman/pkg', 'var/log', 'etc/pacman.d'];

async function runPacman(context: BuildContext, operation: readonly string[], what: string, hint: string): Promise<void> {
  const conf = await writeConf(context);
  for (const dir of PACMAN_DIRECTORIES) await mkdirInRoot(context.root, dir);
  const command = ['pacman', '--config', conf, '--noconfirm', '--noprogressbar', ...operation];
  await runPackageManager(await inRootNamespace(context.root, command), {
    tool: 'pacman',
    reason: REASON,
    explain: explainSignatures,
    env: { ...ENV, ...epochEnvironment(context.reproducibility.epoch) },
    what,
    hint,
    searchPaths: context.config.ExtraSearchPaths,
  });
}

/** Where this build's pacman downloads: its own directory; the shared cache only gets whole files. */
function downloadDirectory(context: BuildContext): string {
  return path.join(context.workspace, 'pacman-downloads');
}

const isPacmanFile: PackageFilter = (name) => !name.startsWith('.') && /\.pkg\.tar(\.[a-z0-9]+)?(\.sig)?$/.test(name);

/** Runs pacman once more when it found (and removed) a cached package with other content. */
async function runPacmanRetrying(context: BuildContext, operation: readonly string[], what: string, hint: string): Promise<void> {
  try {
    await runPacman(context, operation, what, hint);
  } catch (error) {
    // pacman deletes such files (--noconfirm says yes) but fails the transaction; once more works.
    if (!(error instanceof ToolError) || !STALE_CACHE.test(error.message)) throw error;
    warn('pacman found packages in the cache that differ from the repository\'s (same name, other content), removed them, and is trying again');
    await runPacman(context, operation, what, hint);
  }
}

/**
 * Downloads first (-Syw), holding the package cache's lock, and publishes the downloads; then
 * installs (-S) without the lock, from the cache. A build that starts meanwhile waits for the
 * download only and finds the packages there.
 */
async function installPackages(context: BuildContext, packages: readonly string[]): Promise<void> {
  if (packages.length === 0) return;
  const downloads = downloadDirectory(context);
  await fs.mkdir(downloads, { recursive: true });
  await fs.mkdir(context.packageCache, { recursive: true });
  const what = 'Installing packages with pacman';
  const hint = 'check Packages=, Mirror= / LocalMirror= and Repositories=; --debug=run shows the full output';
  await withPackageCache(context.packageCache, async () => {
    await runPacmanRetrying(context, ['-Syw', ...packages], what, hint);
    await publishPackages(downloads, context.packageCache, isPacmanFile, { move: true });
  }, context.cleanup);
  await runPacmanRetrying(context, ['-S', ...packages], what, hint);
  await publishPackages(downloads, context.packageCache, isPacmanFile, { move: true });
}

/** Reads pacman's local database: one directory per package with a `desc` file. */
export function parsePacmanDesc(text: string): { name?: string; version?: string; architecture?: string; base?: string; size?: number } {
  const fields = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = /^%([A-Z0-9]+)%$/.exec(lines[i]!.trim());
    if (header && i + 1 < lines.length) fields.set(header[1]!, lines[i + 1]!.trim());
  }
  const size = fields.get('SIZE');
  return {
    name: fields.get('NAME'),
    version: fields.get('VERSION'),
    architecture: fields.get('ARCH'),
    base: fields.get('BASE'),
    size: size === undefined ? undefined : Number(size) || 0,
  };
}

export const pacman: PackageManager = {
  name: 'pacman',
  requiredTools: () => ['pacman', 'unshare'],

  async install(context, packages) {
    await installPackages(context, packages);
    const mirrorList = policyOf(context.config).mirrorList(context.config);
    if (mirrorList !== null) await writeFileInRoot(context.root, 'etc/pacman.d/mirrorlist', mirrorList, 0o644);
  },

  async installMore(context, packages) {
    await installPackages(context, packages);
  },

  async remove(context, packages) {
    if (packages.length === 0) return;
    // -n: also remove their saved configuration files; -s: and dependencies nothing else needs.
    await runPacman(context, ['-Rns', ...packages], 'Removing packages (RemovePackages=)', 'RemovePackages= must name installed packages that nothing else still needs');
  },

  async listInstalled(context): Promise<InstalledPackage[]> {
    const local = await resolveInRoot(context.root, 'var/lib/pacman/local');
    const entries = await fs.readdir(local, { withFileTypes: true }).catch(() => []);
    const packages: InstalledPackage[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const desc = await fs.readFile(path.join(local, entry.name, 'desc'), 'utf8').catch(() => undefined);
      if (desc === undefined) continue;
      const { name, version, architecture, base, size } = parsePacmanDesc(desc);
      if (name && version) packages.push({ type: 'pkg', name, version, architecture: architecture ?? '', source: base ?? name, size: size ?? 0 });
    }
    return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },

  // pacman keeps no changelogs: the report lists the packages of each base (as mkosi 14's does).
  changelogs: async (_context, packages) =>
    [...groupBySource(packages)].map(([name, binaries]) => ({ name, packages: binaries, changelog: undefined })),

  cacheMountPoint: 'var/cache/pacman/pkg',
  cacheFiles: isPacmanFile,
};
