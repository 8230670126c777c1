/**
 * The user's scripts, as in mkosi 14: mkosi.prepare and mkosi.postinst run inside the image in a
 * throwaway systemd-nspawn container; mkosi.finalize runs on the host with $BUILDROOT. Each gets the
 * phase as its argument: "build" in the development image of a build script, "final" in the image.
 * A failing script stops the build with its name and exit code.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { offerCachedPackages, publishPackages, withPackageCache } from '../cache/package-cache.js';
import { runInContainer } from '../container.js';
import type { BuildContext } from '../context.js';
import { ToolError, UserError } from '../errors.js';
import { getDistribution } from '../distributions/index.js';
import { getPackageManager } from '../package-managers/index.js';
import { epochEnvironment } from '../reproducible.js';
import { run } from '../run.js';
import type { Bind } from '../nspawn.js';
import { existsInRoot, resolveInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

/** Where mkosi 14 puts BuildSources= in the image: $SRCDIR. */
export const SOURCES_IN_IMAGE = 'root/src';

/** The interpreter named on the script's #! line, if any. */
export async function interpreterOf(script: string): Promise<string | undefined> {
  const handle = await fs.open(script, 'r');
  try {
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, 256, 0);
    const firstLine = buffer.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
    return firstLine.startsWith('#!') ? firstLine.slice(2).trim().split(/\s+/)[0] : undefined;
  } finally {
    await handle.close();
  }
}

/** A script's interpreter must exist in the image, or nspawn fails with a cryptic exec error. */
export async function checkInterpreter(context: BuildContext, script: string): Promise<void> {
  const interpreter = await interpreterOf(script);
  if (!interpreter) return;
  try {
    const stat = await fs.stat(await resolveInRoot(context.root, interpreter));
    if (stat.isFile()) return;
  } catch {
    // reported below
  }
  throw new UserError(`${path.basename(script)} needs ${interpreter}, which the image does not have`, {
    hint: 'add the package that provides it to Packages=, or use an interpreter the image has (#!/bin/sh)',
  });
}

export function scriptFailed(script: string, error: unknown, hint = 'the script\'s last output is shown above; --debug=run shows all of it'): unknown {
  if (!(error instanceof ToolError) || error.code === undefined) return error;
  return new ToolError(error.argv, `${path.basename(script)} failed with exit code ${error.code}`, {
    code: error.code,
    stderrTail: error.stderrTail,
    hint,
  });
}

interface InImage {
  readonly network: boolean;
  readonly binds?: readonly Bind[];
  readonly extraArgs?: readonly string[];
}

async function runScriptInImage(context: BuildContext, script: string, options: InImage): Promise<void> {
  await checkInterpreter(context, script);
  const inside = `/run/kiln/${path.basename(script)}`;
  const manager = getPackageManager(getDistribution(context.config.Distribution).packageManager);
  const runWith = (cache: Bind): Promise<unknown> =>
    runInContainer(context, [inside, context.phase], {
      network: options.network,
      binds: [{ source: script, target: inside, readOnly: true }, ...(options.binds ?? []), cache],
      env: context.config.Environment,
      extraArgs: options.extraArgs,
      what: `Running ${path.basename(script)}`,
    });
  const cache = context.packageCache;
  const target = `/${manager.cacheMountPoint}`;
  try {
    // The script sees the package cache (apt-get install works offline).
    const files = manager.cacheFiles;
    if (files) {
      // Its own directory of it: the cache is not locked while the script runs (a build script may
      // compile for minutes), and a script's `apt-get clean` empties only its own.
      const downloads = await fs.mkdtemp(path.join(context.workspace, 'script-cache-'));
      await offerCachedPackages(cache, downloads, files);
      await runWith({ source: downloads, target });
      await withPackageCache(cache, () => publishPackages(downloads, cache, files, { move: true }), context.cleanup);
    } else {
      await withPackageCache(cache, () => runWith({ source: cache, target }), context.cleanup);
    }
  } catch (error) {
    throw scriptFailed(script, error);
  }
}

/**
 * BuildSources= bound at /root/src as they are (mkosi 14's "mount"). The build's workspace, with the
 * image itself in it, is usually inside them (it sits beside the outputs): a tmpfs hides it.
 */
export function bindSources(context: BuildContext): { binds: Bind[]; extraArgs: string[] } {
  const sources = context.config.BuildSources!;
  const workspace = path.relative(sources, context.workspace);
  const inside = workspace !== '' && !workspace.startsWith('..') && !path.isAbsolute(workspace);
  return {
    binds: [{ source: sources, target: `/${SOURCES_IN_IMAGE}` }],
    extraArgs: inside ? [`--tmpfs=${path.posix.join(`/${SOURCES_IN_IMAGE}`, workspace)}:mode=0000`] : [],
  };
}

/** nspawn leaves the mount point of a bind behind; it goes again unless the image had it. */
async function removeMountPoint(root: string, imagePath: string, existed: boolean): Promise<void> {
  if (existed) return;
  await fs.rmdir(await resolveInRoot(root, imagePath, false)).catch(() => undefined);
}

export const prepareScript: Stage = {
  title: 'Running the prepare script',
  enabled: (context) => context.config.PrepareScript !== null && !context.reusedCachedRoot,
  async run(context) {
    const { config } = context;
    // mkosi 14 mounts BuildSources= at /root/src and starts the prepare script there, in both phases.
    // Their content is not part of the cache key: editing a source file must not cost a bootstrap.
    const sources = config.BuildSources !== null && existsSync(config.BuildSources);
    const hadSources = sources && (await existsInRoot(context.root, SOURCES_IN_IMAGE));
    const mount = sources ? bindSources(context) : { binds: [], extraArgs: [] };
    await runScriptInImage(context, config.PrepareScript!, {
      // mkosi 14 gives the prepare script the network: it usually installs things.
      network: config.WithNetwork !== 'never',
      binds: mount.binds,
      extraArgs: sources ? [...mount.extraArgs, `--setenv=SRCDIR=/${SOURCES_IN_IMAGE}`, `--chdir=/${SOURCES_IN_IMAGE}`] : [],
    });
    if (sources) await removeMountPoint(context.root, SOURCES_IN_IMAGE, hadSources);
  },
};

export const postinstScript: Stage = {
  title: 'Running the post-installation script',
  enabled: (context) => context.config.PostInstallationScript !== null,
  run: (context) => runScriptInImage(context, context.config.PostInstallationScript!, { network: context.config.WithNetwork === true }),
};

export const finalizeScript: Stage = {
  title: 'Running the finalize script',
  enabled: (context) => context.config.FinalizeScript !== null,
  async run(context) {
    const script = context.config.FinalizeScript!;
    try {
      await run([script, context.phase], {
        cwd: context.directory,
        env: { ...context.config.Environment, ...epochEnvironment(context.reproducibility.epoch), BUILDROOT: context.root, OUTPUTDIR: context.outputDirectory },
        what: `Running ${path.basename(script)}`,
      });
    } catch (error) {
      throw scriptFailed(script, error);
    }
  },
};
