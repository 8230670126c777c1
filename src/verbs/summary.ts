import { checkDistinctOutputs, type Image } from '../all/images.js';
import { configToJson, formatSummary, refusalNote, type JsonValue } from '../config/summary.js';
import type { Loaded } from '../config/load.js';
import { findProblems } from '../config/validate.js';
import { ConfigErrors, KilnError } from '../errors.js';
import { warn } from '../log.js';
import type { Invocation, Verb } from './types.js';

/** The configuration's mistakes stop summary; settings kiln does not support are only listed. */
function problemsOf(loaded: Loaded, invocation: Invocation, label = ''): { errors: KilnError[]; unsupported: string[] } {
  for (const message of loaded.warnings) warn(`${label}${message}`);
  const problems = findProblems(loaded.config, loaded.context, invocation.display);
  return { errors: [...problems.errors], unsupported: problems.unsupported.map((p) => p.message) };
}

function text(loaded: Loaded, invocation: Invocation, unsupported: readonly string[]): string {
  return formatSummary(
    loaded.config,
    { files: loaded.files.map(invocation.display), preset: invocation.args.preset, unsupported },
    (name) => loaded.context.isSet(name),
  );
}

/** --all: one summary per image, or with --json one array of objects, each naming its image. */
function summarizeAll(images: readonly Image[], invocation: Invocation): void {
  const checked = images.map((image) => ({ image, ...problemsOf(image.loaded, invocation, `${image.name}: `) }));
  const errors = checked.flatMap((entry) => entry.errors);
  if (errors.length > 0) throw new ConfigErrors(errors);
  // Images built one per CI job may share output names; kiln --all build on one machine may not.
  try {
    checkDistinctOutputs(images, invocation.display);
  } catch (error) {
    if (!(error instanceof KilnError)) throw error;
    for (const problem of error instanceof ConfigErrors ? error.errors : [error]) warn(`${problem.message}: kiln --all build refuses that (one image at a time with --image is fine)`);
  }
  if (invocation.args.json) {
    for (const { image, unsupported } of checked) {
      for (const message of unsupported) warn(`${image.name}: ${message}`);
      if (unsupported.length > 0) warn(`${image.name}: ${refusalNote(unsupported.length)}`);
    }
    const objects: Record<string, JsonValue>[] = checked.map(({ image }) => ({ Image: image.name, File: image.file, ...configToJson(image.loaded.config) }));
    process.stdout.write(`${JSON.stringify(objects, null, 2)}\n`);
    return;
  }
  const parts = checked.map(({ image, unsupported }) => `Image: ${image.name}\n${text(image.loaded, invocation, unsupported)}`);
  process.stdout.write(parts.join('\n'));
}

export const summary: Verb = {
  doc: "Show the resolved configuration (--json: as one JSON object with mkosi's key names; with --all, an array of them, one per image)",
  origin: 'mkosi',
  async run(invocation) {
    if (invocation.args.all) return summarizeAll(invocation.images(), invocation);
    const loaded = invocation.config();
    const { errors, unsupported } = problemsOf(loaded, invocation);
    if (errors.length > 0) throw new ConfigErrors(errors);
    if (invocation.args.json) {
      for (const message of unsupported) warn(message);
      if (unsupported.length > 0) warn(refusalNote(unsupported.length));
      process.stdout.write(`${JSON.stringify(configToJson(loaded.config), null, 2)}\n`);
      return;
    }
    process.stdout.write(text(loaded, invocation, unsupported));
  },
};
