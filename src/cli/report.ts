/**
 * How a failure is shown: a KilnError as one line per problem (plus its hint and the tail of a
 * tool's output), anything else as an internal error with its stack. cli.ts shows the failure of a
 * command this way; `kiln --all` shows each image's failure the same way, under the image's name.
 */
import { ConfigErrors, KilnError, ToolError, UserError } from '../errors.js';

/** File-system errors the user can act on (a full or read-only disk) are not bugs in kiln. */
export function asUserError(error: unknown): unknown {
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

export interface Report {
  /** Lines for stderr, without newlines. */
  readonly lines: readonly string[];
  readonly exitCode: number;
  /** The one-line message (the first problem), for summaries. */
  readonly message: string;
}

export function describeFailure(error: unknown): Report {
  const reason = asUserError(error);
  if (reason instanceof KilnError) {
    const lines: string[] = [];
    if (reason instanceof ToolError && reason.stderrTail) {
      lines.push(...reason.stderrTail.split('\n').slice(-10).map((line) => `  │ ${line}`));
    }
    // Each problem with its own hint, when several were found at once.
    const problems = reason instanceof ConfigErrors ? reason.errors : [reason];
    for (const problem of problems) {
      lines.push(`kiln: error: ${problem.message}`);
      if (problem.hint) lines.push(`kiln: hint: ${problem.hint}`);
    }
    return { lines, exitCode: reason.exitCode, message: problems[0]?.message ?? reason.message };
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return {
    lines: ['kiln: internal error (this is a bug in kiln, please report it):', ...stack.split('\n')],
    exitCode: 70,
    message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
  };
}
