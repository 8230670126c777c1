/**
 * Runs commands inside the image being built with a throwaway systemd-nspawn container. mkosi 14
 * runs its scripts and package-manager steps the same way; kiln computes the nspawn flags itself.
 */
import type { BuildContext } from './context.js';
import { nspawnArgv, type Bind } from './nspawn.js';
import { epochEnvironment } from './reproducible.js';
import { run, type RunOptions, type RunStatus } from './run.js';

/** The host name of the build containers of a reproducible build. */
export const BUILD_HOSTNAME = 'kiln-build';

export interface InContainer {
  readonly network: boolean;
  readonly binds?: readonly Bind[];
  readonly env?: Readonly<Record<string, string>>;
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
  const { epoch } = context.reproducibility;
  const binds: Bind[] = [...(options.binds ?? [])];
  // SOURCE_DATE_EPOCH last: the build's epoch wins over one in Environment=.
  const env = { ...options.env, ...epochEnvironment(epoch) };
  const argv = nspawnArgv({
    root: context.root,
    flags: context.nspawnFlags,
    command,
    network: options.network,
    binds,
    // A fixed host name, since nspawn's default is the random machine name, which scripts may write down.
    env,
    hostname: epoch === null ? undefined : BUILD_HOSTNAME,
    console: 'pipe',
    extraArgs: options.extraArgs,
  });
  return run(argv, {
    env,
    what: options.what,
    hint: options.hint,
    secrets: options.secrets,
    stdio: options.stdio,
    input: options.input,
    onOutput: options.onOutput,
  });
}
