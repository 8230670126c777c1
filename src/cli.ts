/**
 * The command-line entry point and the one place errors are caught: a KilnError is the user's to
 * fix and is printed as one line (plus a hint) without a stack; anything else is a bug in kiln.
 */
import path from 'node:path';
import { parseArguments } from './cli/arguments.js';
import { formatHelp } from './cli/help.js';
import { hideSecretArguments } from './cli/secret-arguments.js';
import { displayPath, loadConfig, type Loaded } from './config/load.js';
import { ConfigErrors, KilnError, ToolError, UserError } from './errors.js';
import { configureLog, info, stopProgress } from './log.js';
import { findPreset, implicitPreset, implicitPresetNote, presetLayer } from './presets.js';
import { installSignalHandlers, interruptSignal } from './signals.js';
import { VERBS } from './verbs/index.js';
import type { Invocation } from './verbs/types.js';
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
    const cwd = process.cwd();
    const directory = path.resolve(cwd, args.directory ?? '.');
    let loaded: Loaded | undefined;
    const implicit = implicitPreset(args, directory);
    const preset = args.preset ?? implicit;
    const load = (): Loaded => {
      const result = loadConfig({
        directory,
        defaultPath: args.defaultPath,
        extraFiles: args.configFiles.map((file) => path.resolve(cwd, file)),
        extraFilesAt: args.configFilesAt,
        commandLine: args.assignments,
        cwd,
        ...(preset === undefined ? {} : presetLayer(findPreset(preset), directory)),
      });
      if (implicit !== undefined) info(implicitPresetNote(result.config, directory === cwd ? 'this directory' : displayPath(directory, cwd)));
      return result;
    };
    const invocation: Invocation = {
      args: { ...args, preset },
      cwd,
      directory,
      display: (file) => displayPath(file, cwd),
      config: () => (loaded ??= load()),
    };
    const verb = VERBS[args.verb];
    if (!verb) throw new Error(`internal: verb ${args.verb} has no implementation`);
    return (await verb.run(invocation)) ?? 0;
  } catch (error) {
    return report(error);
  }
}

/** File-system errors the user can act on (a full or read-only disk) are not bugs in kiln. */
function asUserError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const file = (error as NodeJS.ErrnoException | undefined)?.path;
  if (code === 'ENOSPC') {
    return new UserError(`no space left on device${file ? ` (writing ${file})` : ''}`, {
      hint: 'free space where the image is built (the output directory, or WorkspaceDirectory=)',
    });
  }
  if (code === 'EROFS') return new UserError(`read-only file system${file ? ` (writing ${file})` : ''}`);
  if (code === 'EDQUOT') return new UserError(`disk quota exceeded${file ? ` (writing ${file})` : ''}`);
  return error;
}

function report(error: unknown): number {
  stopProgress();
  const reason = interruptSignal().aborted ? (interruptSignal().reason as unknown) : asUserError(error);
  if (reason instanceof KilnError) {
    if (reason instanceof ToolError && reason.stderrTail) {
      const tail = reason.stderrTail.split('\n').slice(-10);
      process.stderr.write(`${tail.map((line) => `  │ ${line}`).join('\n')}\n`);
    }
    // Each problem with its own hint, when several were found at once.
    for (const problem of reason instanceof ConfigErrors ? reason.errors : [reason]) {
      process.stderr.write(`kiln: error: ${problem.message}\n`);
      if (problem.hint) process.stderr.write(`kiln: hint: ${problem.hint}\n`);
    }
    return reason.exitCode;
  }
  process.stderr.write(`kiln: internal error (this is a bug in kiln, please report it):\n`);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 70;
}
