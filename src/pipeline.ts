/**
 * `kiln build`, read top to bottom: check everything, make a workspace, run the stages, write the
 * output and its sidecars into staging, rename them into place, and always clean up — on success,
 * on failure and on interrupt.
 */
import path from 'node:path';
import { commitArtifacts } from './artifacts/commit.js';
import { prepareIncrementalRoot } from './cache/incremental.js';
import { stageManifest } from './artifacts/manifest.js';
import { stageChecksums, stageNspawnSettings } from './artifacts/sidecars.js';
import { stageSignature } from './artifacts/sign.js';
import { checkBuild, checkRoot } from './checks.js';
import type { Loaded } from './config/load.js';
import { CleanupStack, type BuildContext } from './context.js';
import { info, step, warn } from './log.js';
import { buildNspawnFlags, detectNspawnHost } from './nspawn.js';
import { OUTPUTS } from './outputs/index.js';
import { run } from './run.js';
import { throwIfInterrupted } from './signals.js';
import { BASE_STAGES, IMAGE_STAGES } from './stages/index.js';
import type { Stage } from './stages/types.js';
import { explainFullMemoryRoot, mountMemoryRoot } from './memory-root.js';
import { createWorkspace, removeWorkspace } from './workspace.js';

export interface BuildOptions {
  readonly display: (file: string) => string;
  readonly debug: readonly string[];
}

async function runStages(stages: readonly Stage[], context: BuildContext): Promise<void> {
  for (const stage of stages) {
    throwIfInterrupted();
    if (stage.enabled(context)) await step(stage.title, () => stage.run(context));
  }
}

export async function buildImage(loaded: Loaded, options: BuildOptions): Promise<string[]> {
  checkRoot('build');
  const { config } = loaded;
  for (const message of loaded.warnings) warn(message);
  await checkBuild(loaded, options.display);
  const format = OUTPUTS[config.Format];
  if (!format) throw new Error(`internal: ${config.Format} passed the checks but has no output module`);

  const outputDirectory = path.dirname(config.Output);
  const cleanup = new CleanupStack();
  const workspace = await createWorkspace(config.WorkspaceDirectory ?? outputDirectory);
  if (options.debug.includes('workspace')) info(`workspace: ${workspace.path} (kept: --debug=workspace; unmount a tmpfs in it with umount -R)`);
  else cleanup.push('remove the workspace', () => removeWorkspace(workspace.path));
  const memory = await mountMemoryRoot(config, workspace.path);

  const context: BuildContext = {
    config,
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
    reusedCachedRoot: false,
    debug: options.debug,
  };

  try {
    if (config.Force >= 3) {
      // mkosi 14: -fff also removes the package cache.
      await run(['rm', '-rf', '--one-file-system', context.packageCache], { what: 'Removing the package cache' });
    }
    if (config.Incremental) await prepareIncrementalRoot(context, () => runStages(BASE_STAGES, context));
    else await runStages(BASE_STAGES, context);
    await runStages(IMAGE_STAGES, context);
    throwIfInterrupted();
    await step(`Writing ${options.display(config.Output)}`, () => format.write(context));
    await stageNspawnSettings(context);
    await stageChecksums(context);
    await stageSignature(context);
    await stageManifest(context);
    throwIfInterrupted();
    return await commitArtifacts(context);
  } catch (error) {
    throw await explainFullMemoryRoot(error, memory);
  } finally {
    const errors = await cleanup.unwind();
    for (const error of errors) warn(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
