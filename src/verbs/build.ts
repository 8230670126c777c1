import { checkDistinctOutputs } from '../all/images.js';
import { buildImages, checkImages, exitCodeOf } from '../all/schedule.js';
import { shareRoots } from '../all/shared-roots.js';
import { formatResults } from '../all/table.js';
import { queueWidth } from '../all/width.js';
import { checkRoot } from '../checks.js';
import { UserError } from '../errors.js';
import type { Loaded } from '../config/load.js';
import { info } from '../log.js';
import { buildImage } from '../pipeline.js';
import { interruptSignal, processInterrupted } from '../signals.js';
import { bumpVersion } from './bump.js';
import type { Invocation, Verb } from './types.js';

/** Arguments after `build` go to the build script (mkosi 14); without one they are a mistake. */
function checkScriptArguments(scriptArguments: readonly string[], loaded: readonly Loaded[]): void {
  if (scriptArguments.length > 0 && loaded.every((entry) => entry.config.BuildScript === null)) {
    throw new UserError(`unexpected argument "${scriptArguments[0]}" after the verb build`, {
      hint: 'arguments after build go to the build script, and there is none; options may come before or after the verb',
    });
  }
}

/** `kiln --all build`: check every image, build them side by side, show one table of the results. */
async function buildAll(invocation: Invocation): Promise<number> {
  checkRoot('build');
  const { args, display } = invocation;
  const images = invocation.images();
  const scriptArguments = args.commandLine;
  checkScriptArguments(scriptArguments, images.map((image) => image.loaded));
  checkDistinctOutputs(images, display);
  await checkImages(images, display);
  const width = queueWidth(images.length, args.jobs);
  const shared = await shareRoots(images);
  let results;
  try {
    results = await buildImages(images, { width, failFast: args.failFast, display, debug: args.debug, scriptArguments, rootCaches: shared.of });
  } finally {
    await shared.remove();
  }
  process.stderr.write(await formatResults(results, display));
  if (processInterrupted()) throw interruptSignal().reason;
  const exitCode = exitCodeOf(results);
  // The images read one mkosi.version, that of the directory: bumped once, when all of them built.
  if (args.autoBump && exitCode === 0) await bumpVersion(images[0]!.loaded);
  return exitCode;
}

export const build: Verb = {
  doc: 'Build the image (the default verb); arguments after it go to the build script',
  origin: 'mkosi',
  takesCommandLine: 'after-word',
  async run(invocation) {
    if (invocation.args.all) return buildAll(invocation);
    const loaded = invocation.config();
    const scriptArguments = invocation.args.commandLine;
    checkScriptArguments(scriptArguments, [loaded]);
    const written = await buildImage(loaded, { display: invocation.display, debug: invocation.args.debug, scriptArguments });
    for (const file of written) info(`  ${invocation.display(file)}`);
    if (invocation.args.autoBump) await bumpVersion(loaded);
  },
};
