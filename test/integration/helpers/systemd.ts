/** systemd's own tools, as the checks of kiln's artifacts. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SYSTEMD_IMPORT = '/lib/systemd/systemd-import';
export const SYSTEMD_PULL = '/lib/systemd/systemd-pull';

/** Imports a tar the way `machinectl import-tar` does; returns the imported root. */
export function importTar(file: string, name = 'kiln-test'): string {
  const imageRoot = mkdtempSync(path.join(os.tmpdir(), 'kiln-import-'));
  execFileSync(SYSTEMD_IMPORT, [`--image-root=${imageRoot}`, 'tar', file, name], { stdio: 'pipe' });
  return path.join(imageRoot, name);
}

/** Runs a command in a root with systemd-nspawn (without systemd as PID 1 here); returns stdout. */
export function nspawn(root: string, command: readonly string[]): string {
  const result = spawnSync(
    'systemd-nspawn',
    ['--quiet', '--register=no', '--keep-unit', '--as-pid2', '--console=pipe', '--private-network', `--directory=${root}`, '--', ...command],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.status !== 0) throw new Error(`nspawn ${command.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return result.stdout;
}
