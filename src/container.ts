/**
 * Runs commands inside the image being built with a throwaway systemd-nspawn container. mkosi 14
 * runs its scripts and package-manager steps the same way; kiln computes the nspawn flags itself.
 */
import type { BuildContext } from './context.js';
import { nspawnArgv, type Bind } from './nspawn.js';
import { run, type RunOptions, type RunStatus } from './run.js';

export interface InContainer {
  readonly network: boolean;
  readonly binds?: readonly Bind[];
  readonly env?: Readonly<Record<string, string>>;
  /** Bind the package cache where the image's package manager looks for downloads. */
  readonly packageCache?: string;
  readonly what: string;
  readonly hint?: string;
  readonly secrets?: readonly string[];
  readonly stdio?: RunOptions['stdio'];
  readonly input?: string;
  /** More systemd-nspawn options (--chdir=, --tmpfs=…), before the command. */
  readonly extraArgs?: readonly string[];
  /** Shows the command's output as it runs (RunOptions.onOutput). */
  readonly onOutput?: RunOptions['onOutput'];
}

export async function runInContainer(context: BuildContext, command: readonly string[], options: InContainer): Promise<RunStatus> {
  const binds: Bind[] = [...(options.binds ?? [])];
  if (options.packageCache) binds.push({ source: context.packageCache, target: `/${options.packageCache}` });
  const argv = nspawnArgv({
    root: context.root,
    flags: context.nspawnFlags,
    command,
    network: options.network,
    binds,
    env: options.env,
    console: 'pipe',
    extraArgs: options.extraArgs,
  });
  return run(argv, {
    what: options.what,
    hint: options.hint,
    secrets: options.secrets,
    stdio: options.stdio,
    input: options.input,
    onOutput: options.onOutput,
  });
}
