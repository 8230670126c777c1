/** Skeleton trees (before packages) and extra trees (after), as directories or tar archives. */
import { statSync } from 'node:fs';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { getPackageManager } from '../package-managers/index.js';
import { copyTreeIntoRoot } from '../tree/copy-tree.js';
import { unpackTarIntoRoot } from '../tree/tar-tree.js';
import type { Stage } from './types.js';

async function installTrees(trees: readonly string[], root: string): Promise<void> {
  for (const tree of trees) {
    if (statSync(tree).isDirectory()) await copyTreeIntoRoot(tree, root);
    else await unpackTarIntoRoot(tree, root);
  }
}

export const skeletonTrees: Stage = {
  title: 'Copying skeleton trees',
  enabled: (context: BuildContext) => context.config.SkeletonTrees.length > 0 && !context.reusedCachedRoot,
  async run(context) {
    await getPackageManager(getDistribution(context.config.Distribution).packageManager).prepareRoot?.(context);
    await installTrees(context.config.SkeletonTrees, context.root);
  },
};

export const extraTrees: Stage = {
  title: 'Copying extra trees',
  enabled: (context) => context.config.ExtraTrees.length > 0,
  run: (context) => installTrees(context.config.ExtraTrees, context.root),
};
