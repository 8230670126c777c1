import { UserError } from '../errors.js';
import { info } from '../log.js';
import { buildImage } from '../pipeline.js';
import type { Verb } from './types.js';

export const build: Verb = {
  doc: 'Build the image (the default verb); arguments after it go to the build script',
  origin: 'mkosi',
  takesCommandLine: 'after-word',
  async run(invocation) {
    const loaded = invocation.config();
    const scriptArguments = invocation.args.commandLine;
    if (scriptArguments.length > 0 && loaded.config.BuildScript === null) {
      throw new UserError(`unexpected argument "${scriptArguments[0]}" after the verb build`, {
        hint: 'arguments after build go to the build script, and there is none; options may come before or after the verb',
      });
    }
    const written = await buildImage(loaded, { display: invocation.display, debug: invocation.args.debug, scriptArguments });
    for (const file of written) info(`  ${invocation.display(file)}`);
  },
};
