import { configToJson, formatSummary, refusalNote } from '../config/summary.js';
import { findProblems } from '../config/validate.js';
import { ConfigErrors } from '../errors.js';
import { warn } from '../log.js';
import type { Verb } from './types.js';

export const summary: Verb = {
  doc: 'Show the resolved configuration (--json: as one JSON object with mkosi\'s key names)',
  origin: 'mkosi',
  async run(invocation) {
    const loaded = invocation.config();
    for (const message of loaded.warnings) warn(message);
    const problems = findProblems(loaded.config, loaded.context, invocation.display);
    if (problems.errors.length > 0) throw new ConfigErrors(problems.errors);
    if (invocation.args.json) {
      for (const problem of problems.unsupported) warn(problem.message);
      if (problems.unsupported.length > 0) warn(refusalNote(problems.unsupported.length));
      process.stdout.write(`${JSON.stringify(configToJson(loaded.config), null, 2)}\n`);
      return;
    }
    process.stdout.write(
      formatSummary(
        loaded.config,
        {
          files: loaded.files.map(invocation.display),
          preset: invocation.args.preset,
          unsupported: problems.unsupported.map((p) => p.message),
        },
        (name) => loaded.context.isSet(name),
      ),
    );
  },
};
