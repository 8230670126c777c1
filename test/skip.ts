/**
 * The one way any test is skipped. Outside CI a test that needs root, a tool or some other input
 * this machine lacks is skipped with the reason printed. In CI (the CI variable set, as CI services
 * set it; .ci/run sets it too) nothing may be skipped: .ci/run installs everything the tests use, so
 * something missing there is a broken CI (a package renamed, a tool moved) that must fail the run
 * with a line naming it, not turn a suite green without running it.
 */
import { accessSync, constants } from 'node:fs';
import { installHint, packageOf } from '../src/host-tools.js';
import { findCommand } from '../src/util/which.js';

export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

function present(tool: string, env: NodeJS.ProcessEnv): boolean {
  if (!tool.startsWith('/')) return findCommand(tool, { PATH: env.PATH ?? '' }) !== undefined;
  try {
    accessSync(tool, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What of root and these tools (names looked up in $PATH, as `command -v` does, or absolute paths)
 * this machine lacks: "needs root, mkfs.ext4 (install it with: apt-get install e2fsprogs)", or
 * undefined.
 */
export function needs(tools: readonly string[], options: { root?: boolean; env?: NodeJS.ProcessEnv } = {}): string | undefined {
  const env = options.env ?? process.env;
  const missing = tools.filter((tool) => !present(tool, env));
  const lacking = [...(options.root !== false && process.getuid?.() !== 0 ? ['root'] : []), ...missing];
  if (lacking.length === 0) return undefined;
  const known = missing.filter((tool) => packageOf(tool) !== undefined);
  return `needs ${lacking.join(', ')}${known.length > 0 ? ` (${installHint(known)})` : ''}`;
}

/**
 * Returns `reason` (for describe.skipIf / it.skipIf) after printing it; undefined when there is
 * nothing missing. In CI it throws instead, which fails the test file with the reason.
 */
export function unavailable(reason: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (reason === undefined) return undefined;
  if (inCI(env)) throw new Error(`cannot run here, and CI (CI=${env.CI}) skips nothing: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}
