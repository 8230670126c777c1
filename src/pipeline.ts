/**
 * `kiln build`, read top to bottom: check everything, make a workspace, run the stages — with a build
 * script first in a development image, then in the image itself — write the output and its sidecars
 * into staging, rename them into place, and always clean up — on success, on failure and on interrupt.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { commitArtifacts } from './artifacts/commit.js';
import { emptyBuildDirectories, makeBuildDirectories } from './build-directories.js';
import { abandonEarly, prepareIncrementalRoot, startFromCache, type Lookup } from './cache/incremental.js';
import { stageChangelog } from './artifacts/changelog.js';
import { stageManifest } from './artifacts/manifest.js';
import { stageChecksums, stageNspawnSettings } from './artifacts/sidecars.js';
import { stageSignature } from './artifacts/sign.js';
import { checkBuild, checkRoot } from './checks.js';
import type { Loaded } from './config/load.js';
import { CleanupStack, phaseTitle, type BuildContext } from './context.js';
import { withLock } from './lock.js';
import { info, step, warn } from './log.js';
import { buildNspawnFlags, detectNspawnHost } from './nspawn.js';
import { OUTPUTS } from './outputs/index.js';
import { reproducibilityOf } from './reproducible.js';
import { run } from './run.js';
import { throwIfInterrupted } from './signals.js';
import { configFileOf, runBuildScript } from './stages/build-script.js';
import { withBaseImage } from './stages/base-image.js';
import { BASE_STAGES, EXTENSION_STAGES, IMAGE_STAGES, LAYER_EXTENSION_STAGES, LAYER_STAGES, PREPARE_STAGES, SETTLING_STAGES } from './stages/index.js';
import type { Stage } from './stages/types.js';
import { explainFullMemoryRoot, mountMemoryRoot, type MemoryRoot } from './memory-root.js';
import { createWorkspace, removeWorkspace, unmountBelow } from './workspace.js';

export interface BuildOptions {
  readonly display: (file: string) => string;
  readonly debug: readonly string[];
  /** Arguments after `kiln build`, for the build script (mkosi 14 passes them on). */
  readonly scriptArguments?: readonly string[];
  /** checkImage() has run already (`kiln --all` checks every image before building any). */
  readonly checked?: boolean;
  /**
   * A cache of cached roots for this run only (`kiln --all`: images that would bootstrap the same
   * root share one bootstrap through it, as if Incremental=yes without touching Cache=).
   */
  readonly rootCache?: string;
}

/** Incremental= without BaseImage=: the changes to a base image are not cached. */
function usesIncrementalCache(config: BuildContext['config']): boolean {
  return config.Incremental && config.BaseImage === null;
}

async function runStages(stages: readonly Stage[], context: BuildContext): Promise<void> {
  for (const stage of stages) {
    throwIfInterrupted();
    if (stage.enabled(context)) await step(phaseTitle(context, stage.title), () => stage.run(context));
  }
}

/**
 * The root of one phase: from the incremental cache or bootstrapped (or on top of BaseImage=, which
 * is never cached), then the rest of the stages.
 * `early`: the image's root, begun from the cache while the development phase ran.
 */
async function populateRoot(context: BuildContext, early?: Promise<Lookup>): Promise<void> {
  await withBaseImage(context, async () => {
    if (usesIncrementalCache(context.config)) {
      const stages = {
        base: () => runStages(BASE_STAGES, context),
        packages: () => runStages(LAYER_STAGES, context),
        prepare: () => runStages(PREPARE_STAGES, context),
        extended: () => runStages(EXTENSION_STAGES, context),
        extendedLayer: () => runStages(LAYER_EXTENSION_STAGES, context),
      };
      await prepareIncrementalRoot(context, stages, early);
    } else {
      await runStages(BASE_STAGES, context);
    }
    await runStages(IMAGE_STAGES, context);
  });
  await runStages(SETTLING_STAGES, context);
}

async function unwindDevelopmentImage(cleanup: CleanupStack): Promise<void> {
  const errors = await cleanup.unwind();
  for (const error of errors) warn(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Phase one (mkosi 14's build_stuff()): the development image in a root of its own — Packages= plus
 * BuildPackages=, in the incremental cache under its own key — and the build script in it. What the
 * script put into $DESTDIR stays, for the final phase. When the script succeeded, the development
 * image is unmounted and removed while the image itself is made (nothing of the final phase is in
 * it); the image's clean-up waits for that. When it failed, it is removed before this returns.
 */
async function runDevelopmentPhase(image: BuildContext, loaded: Loaded, options: BuildOptions): Promise<void> {
  const root = path.join(image.workspace, 'build-root');
  await fs.mkdir(root, { mode: 0o755 });
  const cleanup = new CleanupStack();
  cleanup.push('remove the development image', async () => {
    await unmountBelow(root);
    // After the unmount an overlay's mount point is empty: no rm process needed for it.
    const removed = await fs.rmdir(root).then(() => true, () => false);
    if (!removed) await run(['rm', '-rf', '--one-file-system', root], { what: 'Removing the development image', uninterruptible: true });
  });
  const context: BuildContext = { ...image, phase: 'build', root, cleanup, artifacts: [], packages: [], reusedCachedRoot: false };
  try {
    await populateRoot(context);
    throwIfInterrupted();
    await runBuildScript(context, options.scriptArguments ?? [], configFileOf(loaded.directory, loaded.files));
  } catch (error) {
    await unwindDevelopmentImage(cleanup);
    throw error;
  }
  const removing = unwindDevelopmentImage(cleanup);
  image.cleanup.push('remove the development image', () => removing);
}

/** Everything checked before a build's first side effect; warnings about the configuration shown. */
export async function checkImage(loaded: Loaded, display: (file: string) => string): Promise<void> {
  for (const message of loaded.warnings) warn(message);
  await checkBuild(loaded, display);
}

export async function buildImage(loaded: Loaded, options: BuildOptions): Promise<string[]> {
  checkRoot('build');
  if (!options.checked) await checkImage(loaded, options.display);
  const config = options.rootCache ? { ...loaded.config, Incremental: true } : loaded.config;
  const format = OUTPUTS[config.Format];
  if (!format) throw new Error(`internal: ${config.Format} passed the checks but has no output module`);

  const outputDirectory = path.dirname(config.Output);
  const cleanup = new CleanupStack();
  const workspace = await createWorkspace(config.WorkspaceDirectory ?? outputDirectory);
  if (options.debug.includes('workspace')) info(`workspace: ${workspace.path} (kept: --debug=workspace; unmount a tmpfs in it with umount -R)`);
  else cleanup.push('remove the workspace', () => removeWorkspace(workspace.path));
  let memory: MemoryRoot | null = null;

  // Everything from here on is undone by the cleanup stack, whatever fails (the tmpfs is unmounted
  // with the workspace).
  try {
    memory = await mountMemoryRoot(config, workspace.path);
    const mounted = memory;
    if (mounted) cleanup.push('give back the memory of the tmpfs', () => mounted.release());
    const context: BuildContext = {
      config,
      phase: 'final',
      directory: loaded.directory,
      workspace: workspace.path,
      root: memory?.root ?? workspace.root,
      staging: workspace.staging,
      outputDirectory,
      packageCache: path.join(config.Cache!, 'packages'),
      cleanup,
      artifacts: [],
      packages: [],
      nspawnFlags: buildNspawnFlags(detectNspawnHost(), config.NspawnKeepUnit),
      reproducibility: reproducibilityOf(config),
      reusedCachedRoot: false,
      debug: options.debug,
      ...(options.rootCache ? { rootCache: options.rootCache } : {}),
    };
    if (config.Force >= 3) {
      // mkosi 14: -fff also removes the package cache.
      // Under its lock: another build may be downloading into it.
      await withLock(cleanup, `${context.packageCache}.lock`, 'the package cache', () =>
        run(['rm', '-rf', '--one-file-system', context.packageCache], { what: 'Removing the package cache' }),
      );
    }
    if (config.Force >= 2) {
      // mkosi 14: -ff also empties BuildDirectory=, IncludeDirectory= and InstallDirectory=.
      for (const dir of await emptyBuildDirectories(config)) info(`emptied ${options.display(dir)}`);
    }
    await makeBuildDirectories(config);
    let early: Promise<Lookup> | undefined;
    if (config.BuildScript !== null) {
      early = usesIncrementalCache(config) && !config.SkipFinalPhase ? startFromCache(context) : undefined;
      // Whatever happens, the early root is finished before the clean-up undoes it (its result is
      // taken by populateRoot() below).
      early?.catch(() => undefined);
      try {
        await runDevelopmentPhase(context, loaded, options);
      } catch (error) {
        if (early) await abandonEarly(context, early);
        throw error;
      }
    }
    if (config.SkipFinalPhase) {
      info('Skipping the final phase (SkipFinalPhase=yes): no image is written');
      return [];
    }
    await populateRoot(context, early);
    throwIfInterrupted();
    await step(`Writing ${options.display(config.Output)}`, () => format.write(context));
    await stageNspawnSettings(context);
    await stageChecksums(context);
    await stageSignature(context);
    await stageManifest(context);
    await stageChangelog(context);
    throwIfInterrupted();
    return await commitArtifacts(context);
  } catch (error) {
    throw await explainFullMemoryRoot(error, memory);
  } finally {
    const errors = await cleanup.unwind();
    for (const error of errors) warn(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
