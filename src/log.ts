/**
 * Progress and messages, all on stderr (stdout is for `summary` output). On a terminal each stage
 * shows an ora spinner; otherwise (CI logs) each stage prints one plain line with its time when it
 * ends. This is the only module that uses ora.
 */
import type { Ora } from 'ora';

interface LogState {
  verbose: boolean;
  quiet: boolean;
  interactive: boolean;
  spinner: Ora | undefined;
  /** Title of the stage that is running, for interrupt messages. */
  current: string | undefined;
}

const state: LogState = {
  verbose: false,
  quiet: false,
  // A terminal without a size (a pty nobody set up, as under script(1)) makes ora compute endless
  // lines to clear; plain lines are the safe choice there.
  interactive: Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && process.env.TERM !== 'dumb' && !process.env.CI,
  spinner: undefined,
  current: undefined,
};

/**
 * The terminal can go away in the middle of a build (an ssh session drops, the CI runner's pty closes):
 * writes then fail with EIO or EPIPE. kiln stops printing instead of dying, so the build still
 * unwinds and removes its workspace (the hangup itself interrupts the build).
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EIO' && error.code !== 'EPIPE') throw error;
    state.quiet = true;
    state.interactive = false;
    state.spinner?.stop();
    state.spinner = undefined;
  });
}

export function configureLog(options: { verbose?: boolean; quiet?: boolean; interactive?: boolean }): void {
  if (options.verbose !== undefined) state.verbose = options.verbose;
  if (options.quiet !== undefined) state.quiet = options.quiet;
  if (options.interactive !== undefined) state.interactive = options.interactive;
}

export function isVerbose(): boolean {
  return state.verbose;
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Prints a line without disturbing a running spinner. */
function printLine(line: string): void {
  if (state.spinner?.isSpinning) {
    state.spinner.clear();
    process.stderr.write(`${line}\n`);
    state.spinner.render();
  } else {
    process.stderr.write(`${line}\n`);
  }
}

/** Runs one stage of work, showing its title and how long it took. Stages do not nest visibly. */
export async function step<T>(title: string, work: () => Promise<T>): Promise<T> {
  if (state.current !== undefined) return work();
  const started = performance.now();
  state.current = title;
  // ora is loaded only for a terminal: CI logs and benchmarks never pay for it.
  if (state.interactive && !state.quiet) {
    const { default: ora } = await import('ora');
    state.spinner = ora({ text: title, stream: process.stderr }).start();
  }
  try {
    const result = await work();
    const took = formatSeconds(performance.now() - started);
    if (state.spinner) state.spinner.succeed(`${title} (${took})`);
    else if (!state.quiet) process.stderr.write(`‣ ${title} (${took})\n`);
    return result;
  } catch (error) {
    const took = formatSeconds(performance.now() - started);
    if (state.spinner) state.spinner.fail(`${title} (${took})`);
    else if (!state.quiet) process.stderr.write(`✗ ${title} (${took})\n`);
    throw error;
  } finally {
    state.spinner = undefined;
    state.current = undefined;
  }
}

/** A line of a build script's output: on stdout, as mkosi 14 shows it, around a running spinner. */
export function scriptOutput(line: string): void {
  if (state.quiet) return;
  if (state.spinner?.isSpinning) {
    state.spinner.clear();
    process.stdout.write(`${line}\n`);
    state.spinner.render();
  } else {
    process.stdout.write(`${line}\n`);
  }
}

export function info(message: string): void {
  if (!state.quiet) printLine(message);
}

export function warn(message: string): void {
  printLine(`kiln: warning: ${message}`);
}

export function debug(message: string): void {
  if (state.verbose) printLine(`  ${message}`);
}

/** Stops a spinner before the process prints its final error. */
export function stopProgress(): void {
  if (state.spinner?.isSpinning) state.spinner.stop();
  state.spinner = undefined;
}
