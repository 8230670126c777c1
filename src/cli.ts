/**
 * The command-line entry point and the one place errors are caught: a KilnError is the user's to
 * fix and is printed as one line (plus a hint) without a stack; anything else is a bug in kiln.
 */
import { parseArguments } from './cli/arguments.js';
import { formatHelp } from './cli/help.js';
import { hideSecretArguments } from './cli/secret-arguments.js';
import { makeInvocation } from './cli/invocation.js';
import { describeFailure } from './cli/report.js';
import { configureLog, stopProgress } from './log.js';
import { installSignalHandlers, interruptSignal } from './signals.js';
import { VERBS } from './verbs/index.js';
import { KILN_VERSION } from './version.js';

export async function main(argv: readonly string[]): Promise<number> {
  installSignalHandlers();
  try {
    const args = parseArguments(argv, VERBS);
    hideSecretArguments(argv, args.assignments);
    if (args.version) {
      process.stdout.write(`kiln ${KILN_VERSION}\n`);
      return 0;
    }
    if (args.help || args.verb === 'help') {
      process.stdout.write(formatHelp(VERBS));
      return 0;
    }
    configureLog({ verbose: args.debug.includes('run') });
    const invocation = makeInvocation(args, process.cwd());
    const verb = VERBS[args.verb];
    if (!verb) throw new Error(`internal: verb ${args.verb} has no implementation`);
    return (await verb.run(invocation)) ?? 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  stopProgress();
  const reason = interruptSignal().aborted ? (interruptSignal().reason as unknown) : error;
  const { lines, exitCode } = describeFailure(reason);
  process.stderr.write(`${lines.join('\n')}\n`);
  return exitCode;
}
