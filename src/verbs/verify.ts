/**
 * `kiln verify [DIR] [--keyring FILE]` (kiln's own verb, for CI pipelines): checks SHA256SUMS
 * against the files and SHA256SUMS.gpg with gpg. Prints one line per good file on stdout; exits 1
 * with one line per problem otherwise. DIR defaults to the configured output directory when there
 * is a configuration, else the current directory.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { verifyArtifacts } from '../artifacts/verify.js';
import { ConfigErrors, UserError } from '../errors.js';
import type { Invocation, Verb } from './types.js';

const USAGE = 'usage: kiln verify [DIR] [--keyring FILE]';

function parseVerifyArguments(args: readonly string[]): { directory?: string; keyring?: string } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { keyring: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UserError(`kiln verify: ${(error as Error).message.split('. ')[0]}`, { hint: USAGE });
  }
  if (parsed.positionals.length > 1) throw new UserError(`kiln verify takes one directory, not ${parsed.positionals.length}`, { hint: USAGE });
  return { directory: parsed.positionals[0], keyring: parsed.values.keyring };
}

/** The directory to check, and whether the configuration there promises a signature. */
function targetOf(invocation: Invocation, given: string | undefined): { directory: string; signed: boolean } {
  if (given !== undefined) return { directory: path.resolve(invocation.cwd, given), signed: false };
  const loaded = invocation.config();
  if (loaded.files.length === 0) return { directory: invocation.cwd, signed: false };
  return { directory: path.dirname(loaded.config.Output), signed: loaded.config.Sign };
}

export const verify: Verb = {
  doc: 'kiln: check SHA256SUMS and SHA256SUMS.gpg of built artifacts: verify [DIR] [--keyring FILE]',
  origin: 'kiln',
  takesArguments: true,
  // Lets --keyring through to the verb instead of being taken for an unknown kiln option.
  takesCommandLine: true,
  async run(invocation) {
    const options = parseVerifyArguments(invocation.args.commandLine);
    const { directory, signed } = targetOf(invocation, options.directory);
    const report = await verifyArtifacts(directory, {
      keyring: options.keyring === undefined ? undefined : path.resolve(invocation.cwd, options.keyring),
      requireSignature: options.keyring !== undefined || signed,
      display: invocation.display,
    });
    for (const line of report.ok) process.stdout.write(`${line}\n`);
    if (report.problems.length === 1) throw new UserError(report.problems[0]!);
    if (report.problems.length > 1) throw new ConfigErrors(report.problems.map((problem) => new UserError(problem)));
    return 0;
  },
};
