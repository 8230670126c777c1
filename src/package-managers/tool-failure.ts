/**
 * Package managers print why they failed ("error: target not found: x", "Error: Unable to find a
 * match: x") somewhere before their last words, and kiln runs them behind `unshare`, whose name
 * would otherwise head the message. This puts the package manager's own reason into the error.
 */
import { ToolError } from '../errors.js';
import { run, type RunOptions } from '../run.js';

export interface PackageManagerRun extends RunOptions {
  /** The program the user knows (pacman, dnf), not the namespace wrapper in front of it. */
  readonly tool: string;
  /** Matches the lines that state a reason; the first group that matched is the reason. */
  readonly reason: RegExp;
  readonly what: string;
  /** A better hint for some reasons (a signature problem), or undefined to keep the usual one. */
  readonly explain?: (reasons: readonly string[]) => string | undefined;
}

/** Enough of the reasons to say what happened in one line. */
const MAX_REASONS = 3;

export function reasonsOf(output: string, pattern: RegExp): string[] {
  const reasons: string[] = [];
  for (const line of output.split('\n')) {
    const reason = pattern.exec(line.trim())?.slice(1).find(Boolean);
    if (reason && !reasons.includes(reason)) reasons.push(reason);
  }
  return reasons;
}

export async function runPackageManager(argv: readonly string[], options: PackageManagerRun): Promise<void> {
  try {
    await run(argv, options);
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    const reasons = reasonsOf(error.stderrTail, options.reason);
    // 127: a program was not found; run() already says which and what to install.
    if (reasons.length === 0 && error.code === 127) throw error;
    const more = reasons.length > MAX_REASONS ? ` (and ${reasons.length - MAX_REASONS} more)` : '';
    const why = reasons.length > 0 ? reasons.slice(0, MAX_REASONS).join('; ') + more : `${options.tool} exited with code ${error.code}`;
    const hint = options.explain?.(reasons) ?? error.hint ?? options.hint;
    throw new ToolError(argv, `${options.what}: ${why}`, { code: error.code, stderrTail: error.stderrTail, hint });
  }
}
