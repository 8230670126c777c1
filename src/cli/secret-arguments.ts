/**
 * A secret given on the command line (`--password=…`) is in /proc/PID/cmdline, which every user of
 * the machine can read. kiln cannot stop the shell and node from putting it there, but it rewrites
 * its own command line as soon as it has parsed it, and says where the secret is better kept.
 */
import type { Assignment } from '../config/assign.js';
import type { Setting } from '../config/setting.js';
import { SETTINGS } from '../config/settings/index.js';
import type { SettingName } from '../config/types.js';
import { warn } from '../log.js';

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

/** The values of secret settings among the command-line assignments. */
export function secretValues(assignments: readonly Assignment[]): string[] {
  return assignments.filter((assignment) => table[assignment.name].secret && assignment.raw).map((assignment) => assignment.raw!);
}

/** The arguments with every secret value replaced by "*". Pure. */
export function redactArguments(argv: readonly string[], secrets: readonly string[]): string[] {
  return argv.map((arg) => secrets.reduce((text, secret) => text.split(secret).join('*'), arg));
}

export function hideSecretArguments(argv: readonly string[], assignments: readonly Assignment[]): void {
  const secrets = secretValues(assignments);
  if (secrets.length === 0) return;
  // On Linux, node writes the title over its argument memory, which is what /proc/PID/cmdline shows.
  process.title = ['kiln', ...redactArguments(argv, secrets)].join(' ');
  const flags = [...new Set(assignments.filter((assignment) => table[assignment.name].secret && assignment.raw).map((assignment) => assignment.spelling))];
  warn(`${flags.join(', ')} on the command line can be read by other users (ps) until kiln starts; a file such as mkosi.rootpw (chmod 600) keeps it private`);
}
