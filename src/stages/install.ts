/** Bootstraps the distribution and installs Packages= with the distribution's package manager. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { getPackageManager } from '../package-managers/index.js';
import { defuseEscapingLinks } from '../tree/defuse.js';
import { besideRoot } from '../workspace.js';
import { baseUpperLayer } from './base-image.js';
import type { Stage } from './types.js';

/**
 * Base packages (BasePackages=) followed by Packages=, without duplicates; the development image
 * adds BuildPackages= (mkosi 14).
 */
export function packagesToInstall(context: Pick<BuildContext, 'config' | 'phase'>): string[] {
  const { config } = context;
  const base = config.BasePackages === false ? [] : getDistribution(config.Distribution).basePackages(config);
  const build = context.phase === 'build' ? config.BuildPackages : [];
  return [...new Set([...base, ...config.Packages, ...build])];
}

/** Bootstrap tools copy the host's resolv.conf and hostname in; they must not end up in the image. */
const HOST_FILES = ['etc/resolv.conf', 'etc/hostname'];

async function isPresent(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

export const installPackages: Stage = {
  title: 'Installing packages',
  enabled: (context) => !context.reusedCachedRoot,
  async run(context) {
    const before = await Promise.all(HOST_FILES.map((file) => isPresent(path.join(context.root, file))));
    await fs.mkdir(context.packageCache, { recursive: true });
    const manager = getPackageManager(getDistribution(context.config.Distribution).packageManager);
    // The package manager works on the root from the host side: skeleton links that lead out of the
    // root must not be there while it runs.
    // BaseImage=: only the skeleton's links are looked at, and parked inside the overlay (a rename
    // out of it would cross file systems).
    const defused =
      context.config.BaseImage === null
        ? await defuseEscapingLinks(context.root, besideRoot(context.root, 'defused-links'))
        : await defuseEscapingLinks(context.root, path.join(context.root, '.kiln-defused-links'), baseUpperLayer(context));
    const packages = packagesToInstall(context);
    // BaseImage=: the base has the package manager and its database; only Packages= are added (mkosi 14).
    if (context.config.BaseImage === null) await manager.install(context, packages);
    else if (packages.length > 0) await manager.installMore(context, packages);
    await defused.restore();
    for (const [index, file] of HOST_FILES.entries()) {
      const target = path.join(context.root, file);
      if (before[index]) continue;
      const stat = await fs.lstat(target).catch(() => undefined);
      if (stat?.isFile()) await fs.unlink(target);
    }
  },
};
