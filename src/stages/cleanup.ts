/**
 * The end of mkosi 14's build_image(): record the package list for the manifest, remove packages,
 * remove package-manager metadata, remove files.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { getPackageManager } from '../package-managers/index.js';
import { removeGlobInRoot } from '../tree/glob.js';
import { resolveInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

function packageManagerOf(context: BuildContext) {
  return getPackageManager(getDistribution(context.config.Distribution).packageManager);
}

export const recordPackages: Stage = {
  title: 'Recording installed packages',
  enabled: (context) => context.config.ManifestFormat.length > 0,
  async run(context) {
    const manager = packageManagerOf(context);
    context.packages = await manager.listInstalled(context);
    // The changelogs come from the package database and /usr/share/doc, which the next stages may remove.
    if (context.config.ManifestFormat.includes('changelog')) context.sourcePackages = await manager.changelogs(context, context.packages);
  },
};

export const removePackages: Stage = {
  title: 'Removing packages',
  enabled: (context) => context.config.RemovePackages.length > 0,
  run: (context) => packageManagerOf(context).remove(context, context.config.RemovePackages),
};

/**
 * Package-manager metadata, and the program whose presence in the image means it is still useful.
 * mkosi 14 tries every group whatever the distribution; kiln adds pacman, which mkosi left out.
 */
export const METADATA_GROUPS: readonly { program: string; paths: readonly string[] }[] = [
  { program: '/bin/dnf', paths: ['/var/lib/dnf', '/var/log/dnf.*', '/var/log/hawkey.*', '/var/cache/dnf'] },
  { program: '/bin/yum', paths: ['/var/lib/yum', '/var/log/yum.*', '/var/cache/yum'] },
  { program: '/bin/rpm', paths: ['/var/lib/rpm', '/usr/lib/sysimage/rpm'] },
  { program: '/usr/bin/apt', paths: ['/var/lib/apt', '/var/log/apt', '/var/cache/apt'] },
  { program: '/usr/bin/dpkg', paths: ['/var/lib/dpkg', '/var/log/dpkg.log'] },
  { program: '/usr/bin/pacman', paths: ['/var/lib/pacman', '/var/cache/pacman'] },
];

async function present(root: string, program: string): Promise<boolean> {
  try {
    // Like mkosi: the name itself, not following a final symlink (/bin may be a merged-usr link).
    await lstat(path.join(await resolveInRoot(root, path.posix.dirname(program)), path.posix.basename(program)));
    return true;
  } catch {
    return false;
  }
}

export const cleanPackageMetadata: Stage = {
  title: 'Cleaning package metadata',
  enabled: (context) => context.config.CleanPackageMetadata !== false,
  async run(context) {
    const always = context.config.CleanPackageMetadata === true;
    for (const group of METADATA_GROUPS) {
      if (!always && (await present(context.root, group.program))) continue;
      for (const pattern of group.paths) await removeGlobInRoot(context.root, pattern);
    }
  },
};

export const removeFiles: Stage = {
  title: 'Removing files',
  enabled: (context) => context.config.RemoveFiles.length > 0,
  async run(context) {
    for (const pattern of context.config.RemoveFiles) await removeGlobInRoot(context.root, pattern);
  },
};
