/**
 * `kiln --all build`: every image is checked before any is built, then the builds run side by side
 * in a p-queue as wide as the machine allows. Each build is the same buildImage() as `kiln build`,
 * in its own progress and interrupt scope; builds share nothing but the caches, which keep
 * themselves consistent with their locks (cache/).
 *
 * A failing image reports its own error and, like every build, leaves no output behind. By default
 * the other images go on (a CI run learns about every broken image at once); --fail-fast stops at
 * the first failure as mkosi 14 does: images not started yet are skipped and running ones are
 * stopped, cleaning up as on Ctrl-C.
 */
import PQueue from 'p-queue';
import { describeFailure, type Report } from '../cli/report.js';
import { ConfigErrors, InterruptedError, KilnError, StoppedError, UserError } from '../errors.js';
import { printForImage, runAsImage, startImageBoard, stopImageBoard } from '../log.js';
import { buildImage, checkImage } from '../pipeline.js';
import { processInterrupted, withInterruptScope } from '../signals.js';
import type { Image } from './images.js';

export type Outcome = 'built' | 'failed' | 'stopped' | 'skipped';

export interface ImageResult {
  readonly image: Image;
  readonly outcome: Outcome;
  readonly seconds: number;
  /** The files written (built images). */
  readonly outputs: readonly string[];
  readonly failure?: Report;
}

export interface ScheduleOptions {
  readonly width: number;
  readonly failFast: boolean;
  readonly display: (file: string) => string;
  readonly debug: readonly string[];
  /** Arguments after `build`, for the images' build scripts. */
  readonly scriptArguments?: readonly string[];
  /** The run's root cache of the images that share a bootstrap (shared-roots.ts). */
  readonly rootCaches?: ReadonlyMap<Image, string>;
}

/** An error of one image's checks, under the image's name. */
function ofImage(image: Image, error: KilnError): KilnError {
  return new UserError(`${image.name}: ${error.message}`, { hint: error.hint, exitCode: error.exitCode });
}

/** Checks every image; all problems of all images are reported together, before anything is built. */
export async function checkImages(images: readonly Image[], display: (file: string) => string): Promise<void> {
  const problems: KilnError[] = [];
  for (const image of images) {
    try {
      await checkImage(image.loaded, display);
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      const each = error instanceof ConfigErrors ? error.errors : [error];
      problems.push(...each.map((problem) => ofImage(image, problem)));
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new ConfigErrors(problems);
}

export async function buildImages(images: readonly Image[], options: ScheduleOptions): Promise<ImageResult[]> {
  const queue = new PQueue({ concurrency: options.width });
  const stop = new AbortController();
  const plural = images.length === 1 ? 'image' : 'images';
  const progress = await startImageBoard(
    images.map((image) => image.name),
    `Building ${images.length} ${plural}${options.width < images.length ? `, ${options.width} at a time` : ''}`,
  );
  const results: ImageResult[] = [];
  const buildOne = async (k: number): Promise<ImageResult> => {
    const image = images[k]!;
    if (stop.signal.aborted || processInterrupted()) return { image, outcome: 'skipped', seconds: 0, outputs: [] };
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const outputs = await withInterruptScope(stop.signal, () =>
        runAsImage(progress[k]!, () => buildImage(image.loaded, { display: options.display, debug: options.debug, scriptArguments: options.scriptArguments, checked: true, rootCache: options.rootCaches?.get(image) })),
      );
      return { image, outcome: 'built', seconds: seconds(), outputs };
    } catch (error) {
      if (error instanceof StoppedError) return { image, outcome: 'stopped', seconds: seconds(), outputs: [] };
      // Ctrl-C stops every image; kiln says so once, at the end.
      if (error instanceof InterruptedError) return { image, outcome: 'stopped', seconds: seconds(), outputs: [], failure: describeFailure(error) };
      const failure = describeFailure(error);
      printForImage(progress[k]!, failure.lines);
      if (options.failFast) stop.abort(new StoppedError(image.name));
      return { image, outcome: 'failed', seconds: seconds(), outputs: [], failure };
    }
  };
  try {
    await Promise.all(images.map((_, k) => queue.add(async () => void (results[k] = await buildOne(k)))));
  } finally {
    stopImageBoard();
  }
  return results;
}

/** The exit code of the whole run: 0 when every image was built, else the first failure's (or the interrupt's). */
export function exitCodeOf(results: readonly ImageResult[]): number {
  const failed = results.find((result) => result.outcome === 'failed') ?? results.find((result) => result.failure);
  if (failed) return failed.failure!.exitCode;
  return results.every((result) => result.outcome === 'built') ? 0 : 1;
}
