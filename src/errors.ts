/**
 * The two kinds of failure kiln knows about. Anything that is a KilnError is the user's to fix and
 * is printed as one line (plus an optional hint) without a stack; anything else is a bug in kiln.
 */
export class KilnError extends Error {
  readonly hint: string | undefined;
  /** Process exit code to use; 1 unless a signal or a tool decides otherwise. */
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A problem the user can fix: bad invocation, missing tool, existing output… */
export class UserError extends KilnError {}

/** Where a configuration value came from, for error messages. */
export interface Origin {
  /** File path as the user would recognise it, or "command line". */
  readonly file: string;
  /** 1-based line number; absent for the command line. */
  readonly line?: number;
}

export function formatOrigin(origin: Origin): string {
  return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
}

/** A configuration problem, always tied to a file and line (or the command line). */
export class ConfigError extends KilnError {
  readonly origin: Origin;

  constructor(origin: Origin, message: string, options: { hint?: string } = {}) {
    super(`${formatOrigin(origin)}: ${message}`, options);
    this.origin = origin;
  }
}

/** Several configuration problems found in one pass, reported together. */
export class ConfigErrors extends KilnError {
  readonly errors: readonly KilnError[];

  constructor(errors: readonly KilnError[]) {
    super(errors.map((e) => e.message).join('\n'), { hint: errors.find((e) => e.hint)?.hint });
    this.errors = errors;
  }
}

/** A subprocess that failed. The message names the command and its exit code. */
export class ToolError extends KilnError {
  readonly argv: readonly string[];
  readonly code: number | undefined;
  readonly stderrTail: string;

  constructor(
    argv: readonly string[],
    what: string,
    options: { code?: number; stderrTail?: string; hint?: string; exitCode?: number },
  ) {
    const tail = options.stderrTail?.trim();
    super(what, {
      hint: options.hint,
      exitCode: options.exitCode,
    });
    this.argv = argv;
    this.code = options.code;
    this.stderrTail = tail ?? '';
  }
}

/** The build was stopped by a signal; exit with 128 + signal number, as shells do. */
export class InterruptedError extends KilnError {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`, { exitCode: signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129 });
  }
}

/** A build of `kiln --all --fail-fast` stopped because another image failed first. */
export class StoppedError extends KilnError {
  constructor(failed: string) {
    super(`stopped because ${failed} failed (--fail-fast)`);
  }
}
