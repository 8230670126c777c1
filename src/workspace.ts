/**
 * The private scratch directory of one build. It lives in the output directory (or
 * WorkspaceDirectory=) so that finished outputs can be renamed into place, and it is removed at the
 * end whatever happened — after making sure nothing is still mounted below it, so that a leftover
 * bind mount can never make the removal reach into the host.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from './run.js';

export interface Workspace {
  readonly path: string;
  readonly root: string;
  readonly staging: string;
}

export async function createWorkspace(base: string): Promise<Workspace> {
  await fs.mkdir(base, { recursive: true });
  const dir = await fs.mkdtemp(path.join(base, '.kiln-build-'));
  const workspace = { path: dir, root: path.join(dir, 'root'), staging: path.join(dir, 'staging') };
  await fs.mkdir(workspace.root, { mode: 0o755 });
  await fs.mkdir(workspace.staging, { mode: 0o755 });
  return workspace;
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountBelow(dir: string): Promise<void> {
  for (const point of mountsBelow(dir)) {
    await run(['umount', '--lazy', point], { what: `Unmounting ${point}`, okCodes: [32], uninterruptible: true });
  }
  const left = mountsBelow(dir);
  if (left.length > 0) throw new Error(`internal: still mounted below ${dir}: ${left.join(', ')}`);
}

export async function removeWorkspace(dir: string): Promise<void> {
  await unmountBelow(dir);
  // --one-file-system: even if a mount appeared meanwhile, rm does not descend into it.
  await run(['rm', '-rf', '--one-file-system', dir], { what: `Removing the workspace ${dir}`, uninterruptible: true });
}
