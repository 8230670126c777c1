/**
 * Progress and messages, all on stderr (stdout is for `summary` output). On a terminal each stage
 * shows an ora spinner; otherwise (CI logs) each stage prints one plain line with its time when it
 * ends. This is the only module that uses ora.
 *
 * Builds side by side (`kiln --all`) run each in an image scope (runAsImage): on a terminal one
 * board shows one line per image — what it is doing, for how long — and every message goes above
 * it; in CI logs every line starts with the image's name in brackets.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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

/** One image of `kiln --all`, as the board shows it. */
export interface ImageProgress {
  readonly name: string;
  state: 'waiting' | 'running' | 'done' | 'failed';
  /** The stage running now. */
  current: string | undefined;
  stepStarted: number;
  started: number;
  ended: number;
}

const images = new AsyncLocalStorage<ImageProgress>();
let board: { readonly progress: readonly ImageProgress[]; readonly title: string; timer?: NodeJS.Timeout } | undefined;

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

/** Prints a line without disturbing a running spinner; inside an image scope, under the image's name. */
function printLine(text: string): void {
  const image = images.getStore();
  const line = image ? `[${image.name}] ${text}` : text;
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
  const image = images.getStore();
  if (image) return imageStep(image, title, work);
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


function boardText(): string {
  if (!board) return '';
  const now = performance.now();
  const width = Math.max(...board.progress.map((image) => image.name.length));
  const count = (wanted: ImageProgress['state']) => board!.progress.filter((image) => image.state === wanted).length;
  const lines = [`${board.title}: ${count('done')} done, ${count('failed')} failed, ${count('running')} running`];
  for (const image of board.progress) {
    const name = image.name.padEnd(width);
    if (image.state === 'waiting') lines.push(`  · ${name}  waiting`);
    else if (image.state === 'done') lines.push(`  ✔ ${name}  done (${formatSeconds(image.ended - image.started)})`);
    else if (image.state === 'failed') lines.push(`  ✖ ${name}  failed (${formatSeconds(image.ended - image.started)})`);
    else lines.push(`  › ${name}  ${image.current ?? 'checking'} (${formatSeconds(now - (image.current ? image.stepStarted : image.started))})`);
  }
  return lines.join('\n');
}

function refreshBoard(): void {
  if (board && state.spinner) state.spinner.text = boardText();
}

/**
 * Shows the board of the images about to be built (on a terminal; in CI logs one line naming
 * them) and returns their progress records, for runAsImage.
 */
export async function startImageBoard(names: readonly string[], title: string): Promise<ImageProgress[]> {
  const progress = names.map((name) => ({ name, state: 'waiting' as const, current: undefined, stepStarted: 0, started: 0, ended: 0 }));
  board = { progress, title };
  if (state.interactive && !state.quiet) {
    const { default: ora } = await import('ora');
    state.spinner = ora({ text: boardText(), stream: process.stderr }).start();
    board.timer = setInterval(refreshBoard, 1000);
  } else if (!state.quiet) {
    process.stderr.write(`‣ ${title}: ${names.join(', ')}\n`);
  }
  return progress;
}

/** Takes the board away (the caller prints the results). */
export function stopImageBoard(): void {
  if (board?.timer) clearInterval(board.timer);
  board = undefined;
  stopProgress();
}

/** Runs one image's build in its scope: its stages update its line, its messages carry its name. */
export async function runAsImage<T>(image: ImageProgress, work: () => Promise<T>): Promise<T> {
  image.state = 'running';
  image.started = performance.now();
  refreshBoard();
  try {
    const result = await images.run(image, work);
    image.state = 'done';
    return result;
  } catch (error) {
    image.state = 'failed';
    throw error;
  } finally {
    image.ended = performance.now();
    image.current = undefined;
    refreshBoard();
  }
}

/** Prints lines as messages of one image (its failure, after its scope ended). */
export function printForImage(image: ImageProgress, lines: readonly string[]): void {
  images.run(image, () => {
    for (const line of lines) printLine(line);
  });
}

async function imageStep<T>(image: ImageProgress, title: string, work: () => Promise<T>): Promise<T> {
  if (image.current !== undefined) return work();
  image.current = title;
  image.stepStarted = performance.now();
  refreshBoard();
  const finished = (mark: string) => {
    if (!state.interactive && !state.quiet) printLine(`${mark} ${title} (${formatSeconds(performance.now() - image.stepStarted)})`);
  };
  try {
    const result = await work();
    finished('‣');
    return result;
  } catch (error) {
    finished('✗');
    throw error;
  } finally {
    image.current = undefined;
    refreshBoard();
  }
}
