import { info } from '../log.js';
import { buildImage } from '../pipeline.js';
import type { Verb } from './types.js';

export const build: Verb = {
  doc: 'Build the image (the default verb)',
  origin: 'mkosi',
  async run(invocation) {
    const written = await buildImage(invocation.config(), { display: invocation.display, debug: invocation.args.debug });
    for (const file of written) info(`  ${invocation.display(file)}`);
  },
};
