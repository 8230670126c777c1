/**
 * pacman: the image is bootstrapped with pacstrap (arch-install-scripts) and a pacman.conf kiln
 * generates; packages are downloaded into the package cache outside the image.
 *
 * pacstrap mounts /proc, /dev, /sys, /run and /tmp on the image itself and runs pacman in a PID
 * namespace. Its mounts would otherwise live in kiln's mount namespace and rely on a shell EXIT trap
 * to go away, so kiln runs it in a private mount namespace of its own: if pacstrap is killed, the
 * mounts vanish with the namespace. Removal runs plain pacman the same way (root-namespace.ts).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { UserError } from '../errors.js';
import { resolveInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { renderPacmanConf, type PacmanPolicy } from './pacman-conf.js';
import { inRootNamespace } from './root-namespace.js';
import { runPackageManager } from './tool-failure.js';
import type { PackageManager } from './types.js';

/** The host keyring pacman verifies signatures with (pacman-key --init, --populate archlinux). */
export const HOST_KEYRING = '/etc/pacman.d/gnupg';

const ENV = { KERNEL_INSTALL_BYPASS: '1', LC_ALL: 'C' };
/** How pacman states why it failed. */
const REASON = /^error: (.+)$/;

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
  if (repositories.length === 0) throw new UserError('no repository to install Arch Linux from', { hint: getDistribution(config.Distribution).mirrorHint });
  if (config.RepositoryKeyCheck && !existsSync(HOST_KEYRING)) {
    throw new UserError(`RepositoryKeyCheck=yes needs the Arch Linux keyring in ${HOST_KEYRING}, which this host does not have`, {
      hint: 'apt-get install archlinux-keyring, then pacman-key --init && pacman-key --populate archlinux; or set RepositoryKeyCheck=no for an unsigned local repository',
    });
  }
  const file = path.join(context.workspace, 'pacman.conf');
  const text = renderPacmanConf({
    root: context.root,
    cacheDirectory: context.packageCache,
    gpgDirectory: HOST_KEYRING,
    architecture: config.Architecture,
    keyCheck: config.RepositoryKeyCheck,
    withDocs: config.WithDocs,
    repositories,
  });
  await fs.mkdir(context.workspace, { recursive: true });
  await fs.writeFile(file, text, { mode: 0o644 });
  return file;
}

async function pacstrap(context: BuildContext, packages: readonly string[]): Promise<void> {
  if (packages.length === 0) return;
  const conf = await writeConf(context);
  await fs.mkdir(context.packageCache, { recursive: true });
  // -c: use CacheDir from our pacman.conf; -G: never copy the host's keyring (and its secret key)
  // into the image; -M: no host mirrorlist either.
  const argv = ['unshare', '--mount', '--propagation', 'private', 'pacstrap', '-C', conf, '-c', '-G', '-M', context.root, ...packages];
  await runPackageManager(argv, {
    tool: 'pacstrap',
    reason: REASON,
    explain: explainSignatures,
    env: ENV,
    what: 'Installing packages with pacstrap',
    hint: 'check Packages=, Mirror= / LocalMirror= and Repositories=; --debug=run shows the full output',
    searchPaths: context.config.ExtraSearchPaths,
  });
}

/** Reads pacman's local database: one directory per package with a `desc` file. */
export function parsePacmanDesc(text: string): { name?: string; version?: string; architecture?: string } {
  const fields = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = /^%([A-Z0-9]+)%$/.exec(lines[i]!.trim());
    if (header && i + 1 < lines.length) fields.set(header[1]!, lines[i + 1]!.trim());
  }
  return { name: fields.get('NAME'), version: fields.get('VERSION'), architecture: fields.get('ARCH') };
}

export const pacman: PackageManager = {
  name: 'pacman',
  requiredTools: () => ['pacstrap', 'pacman', 'unshare'],

  async install(context, packages) {
    await pacstrap(context, packages);
    const mirrorList = policyOf(context.config).mirrorList(context.config);
    if (mirrorList !== null) await writeFileInRoot(context.root, 'etc/pacman.d/mirrorlist', mirrorList, 0o644);
  },

  async installMore(context, packages) {
    await pacstrap(context, packages);
  },

  async remove(context, packages) {
    if (packages.length === 0) return;
    const conf = await writeConf(context);
    // -n: also remove their saved configuration files; -s: and dependencies nothing else needs.
    const command = ['pacman', '--config', conf, '--noconfirm', '--noprogressbar', '-Rns', ...packages];
    await runPackageManager(await inRootNamespace(context.root, command), {
      tool: 'pacman',
      reason: REASON,
      env: ENV,
      what: 'Removing packages (RemovePackages=)',
      hint: 'RemovePackages= must name installed packages that nothing else still needs',
      searchPaths: context.config.ExtraSearchPaths,
    });
  },

  async listInstalled(context): Promise<InstalledPackage[]> {
    const local = await resolveInRoot(context.root, 'var/lib/pacman/local');
    const entries = await fs.readdir(local, { withFileTypes: true }).catch(() => []);
    const packages: InstalledPackage[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const desc = await fs.readFile(path.join(local, entry.name, 'desc'), 'utf8').catch(() => undefined);
      if (desc === undefined) continue;
      const { name, version, architecture } = parsePacmanDesc(desc);
      if (name && version) packages.push({ type: 'pkg', name, version, architecture: architecture ?? '' });
    }
    return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },

  metadataPaths: ['var/lib/pacman'],
  imageProgram: 'usr/bin/pacman',
  cacheMountPoint: 'var/cache/pacman/pkg',
};
