/**
 * The build, top to bottom, in mkosi 14's order (build_image()). Each stage says for itself whether
 * it has work to do; the pipeline runs them in this order and shows each as one progress line. With
 * a build script the same stages make the development image first (context.phase 'build'), where
 * the scripts get "build" as their argument and the clean-up at the end is left out.
 */
import { bootSetupStage, cachedInitrdStage, initrdStage, signBootLoaderStage } from '../boot/index.js';
import { autologinStage } from './autologin.js';
import { finalSources, installBuildOutput } from './build-output.js';
import { cleanPackageMetadata, recordPackages, removeFiles, removePackages } from './cleanup.js';
import { configureImage, resetMachineId } from './configure.js';
import { installPackages } from './install.js';
import { netdevStage } from './netdev.js';
import { clampCachedTimes, clampTimes, removeBuildRecords } from './reproducible.js';
import { finalizeScript, postinstScript, prepareScript } from './scripts.js';
import { serialTerminalStage } from './serial-terminal.js';
import { sshStage } from './ssh.js';
import { extraTrees, skeletonTrees } from './trees.js';
import type { Stage } from './types.js';

/** mkosi 14 skips these in the development image: it is thrown away once the build script ran. */
function finalOnly(stage: Stage): Stage {
  return { ...stage, enabled: (context) => context.phase === 'final' && stage.enabled(context) };
}

const PACKAGE_STAGES: readonly Stage[] = [skeletonTrees, installPackages];

/** What follows the packages in the cached root (run alone on a cached root without the prepare script). */
export const PREPARE_STAGES: readonly Stage[] = [prepareScript, finalOnly(cachedInitrdStage), clampCachedTimes];

/** Up to here the root depends only on what the incremental cache key covers. */
export const BASE_STAGES: readonly Stage[] = [...PACKAGE_STAGES, ...PREPARE_STAGES];

/** The root without the prepare script, as the cache keeps it (cache/incremental.ts). */
export const LAYER_STAGES: readonly Stage[] = [...PACKAGE_STAGES, clampCachedTimes];

/**
 * What a cached root extended with more packages runs before it is cached again: its times clamped as
 * a bootstrapped root's are, or every build from it would clamp them through its overlay, copying
 * each file up.
 */
export const EXTENSION_STAGES: readonly Stage[] = [finalOnly(cachedInitrdStage), clampCachedTimes];

/** The same for an extended root without the prepare script, which holds no cached initrd. */
export const LAYER_EXTENSION_STAGES: readonly Stage[] = [clampCachedTimes];

export const IMAGE_STAGES: readonly Stage[] = [
  configureImage,
  // mkosi 14 leaves these out of the development image, as it leaves out the kernel.
  finalOnly(autologinStage),
  finalOnly(serialTerminalStage),
  finalOnly(netdevStage),
  finalOnly(bootSetupStage),
  // The build script's results come before the extra trees, so that those can still override them.
  finalSources,
  installBuildOutput,
  extraTrees,
  // mkosi 14 makes the initrd here too (kernel-install), so it holds the extra trees but not what the scripts do.
  finalOnly(initrdStage),
  finalOnly(sshStage),
  postinstScript,
  // mkosi 14 signs the image's systemd-boot right after the post-installation script.
  finalOnly(signBootLoaderStage),
  // mkosi 14 removes packages first, so the manifest lists what the image really contains.
  finalOnly(removePackages),
  finalOnly(recordPackages),
  finalOnly(cleanPackageMetadata),
  finalOnly(removeFiles),
  finalOnly(resetMachineId),
  finalizeScript,
];

/**
 * Last, so that nothing the build writes escapes them (SourceDateEpoch= only) — and, with BaseImage=,
 * after the overlay is gone, so that they touch the changes alone, not every file of the base.
 */
export const SETTLING_STAGES: readonly Stage[] = [finalOnly(removeBuildRecords), finalOnly(clampTimes)];
