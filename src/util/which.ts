import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Whether an executable of this name is on PATH (like `command -v`). */
export function hasCommand(name: string, env: Readonly<Record<string, string | undefined>>): boolean {
  return findCommand(name, env) !== undefined;
}

export function findCommand(name: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const dirs = (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
