/**
 * The user's scripts, as in mkosi 14: mkosi.prepare and mkosi.postinst run inside the image in a
 * throwaway systemd-nspawn container with the argument "final"; mkosi.finalize runs on the host with
 * $BUILDROOT. A failing script stops the build with its name and exit code.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runInContainer } from '../container.js';
import type { BuildContext } from '../context.js';
import { ToolError, UserError } from '../errors.js';
import { getDistribution } from '../distributions/index.js';
import { getPackageManager } from '../package-managers/index.js';
import { withLock } from '../lock.js';
import { run } from '../run.js';
import { resolveInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

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
async function checkInterpreter(context: BuildContext, script: string): Promise<void> {
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

function scriptFailed(script: string, error: unknown): unknown {
  if (!(error instanceof ToolError) || error.code === undefined) return error;
  return new ToolError(error.argv, `${path.basename(script)} failed with exit code ${error.code}`, {
    code: error.code,
    stderrTail: error.stderrTail,
    hint: 'the script\'s last output is shown above; --debug=run shows all of it',
  });
}

async function runScriptInImage(context: BuildContext, script: string, network: boolean): Promise<void> {
  await checkInterpreter(context, script);
  const inside = `/run/kiln/${path.basename(script)}`;
  const manager = getPackageManager(getDistribution(context.config.Distribution).packageManager);
  try {
    // The script sees the shared package cache (apt-get install works offline); one build at a time.
    await withLock(`${context.packageCache}.lock`, 'the package cache', () => runInContainer(context, [inside, 'final'], {
      network,
      binds: [{ source: script, target: inside, readOnly: true }],
      env: context.config.Environment,
      packageCache: manager.cacheMountPoint,
      what: `Running ${path.basename(script)}`,
    }));
  } catch (error) {
    throw scriptFailed(script, error);
  }
}

export const prepareScript: Stage = {
  title: 'Running the prepare script',
  enabled: (context) => context.config.PrepareScript !== null && !context.reusedCachedRoot,
  // mkosi 14 gives the prepare script the network: it usually installs things.
  run: (context) => runScriptInImage(context, context.config.PrepareScript!, context.config.WithNetwork !== 'never'),
};

export const postinstScript: Stage = {
  title: 'Running the post-installation script',
  enabled: (context) => context.config.PostInstallationScript !== null,
  run: (context) => runScriptInImage(context, context.config.PostInstallationScript!, context.config.WithNetwork === true),
};

export const finalizeScript: Stage = {
  title: 'Running the finalize script',
  enabled: (context) => context.config.FinalizeScript !== null,
  async run(context) {
    const script = context.config.FinalizeScript!;
    try {
      await run([script, 'final'], {
        cwd: context.directory,
        env: { ...context.config.Environment, BUILDROOT: context.root, OUTPUTDIR: context.outputDirectory },
        what: `Running ${path.basename(script)}`,
      });
    } catch (error) {
      throw scriptFailed(script, error);
    }
  },
};
