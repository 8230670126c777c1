/**
 * The build, top to bottom, in mkosi 14's order (build_image()). Each stage says for itself whether
 * it has work to do; the pipeline runs them in this order and shows each as one progress line.
 */
import { cleanPackageMetadata, recordPackages, removeFiles, removePackages } from './cleanup.js';
import { configureImage, resetMachineId } from './configure.js';
import { installPackages } from './install.js';
import { finalizeScript, postinstScript, prepareScript } from './scripts.js';
import { extraTrees, skeletonTrees } from './trees.js';
import type { Stage } from './types.js';

/** Up to here the root depends only on what the incremental cache key covers. */
export const BASE_STAGES: readonly Stage[] = [skeletonTrees, installPackages, prepareScript];

export const IMAGE_STAGES: readonly Stage[] = [
  configureImage,
  extraTrees,
  postinstScript,
  // mkosi 14 removes packages first, so the manifest lists what the image really contains.
  removePackages,
  recordPackages,
  cleanPackageMetadata,
  removeFiles,
  resetMachineId,
  finalizeScript,
];
