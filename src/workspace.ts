/**
 * The private scratch directory of one build. It lives in the output directory (or
 * WorkspaceDirectory=) so that finished outputs can be renamed into place, and it is removed at the
 * end whatever happened — after making sure nothing is still mounted below it, so that a leftover
 * bind mount can never make the removal reach into the host.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { warn } from './log.js';
import { run } from './run.js';

export interface Workspace {
  readonly path: string;
  readonly root: string;
  readonly staging: string;
}

const OWNER_FILE = 'owner';

/** "pid start-time": a pid alone could be reused by another process after a reboot or a long time. */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (start time) comes after the command name, which may itself contain spaces and ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} ${fields[19]}`;
  } catch {
    return undefined;
  }
}

const WORKSPACE_PREFIX = '.kiln-build-';

/** A private directory in `base`, removed by a later build if this one is killed before it does. */
export async function createScratchDirectory(base: string, prefix = WORKSPACE_PREFIX): Promise<string> {
  const dir = await fs.mkdtemp(path.join(base, prefix));
  await fs.writeFile(path.join(dir, OWNER_FILE), `${processIdentity(process.pid) ?? process.pid}\n`);
  return dir;
}

export async function createWorkspace(base: string): Promise<Workspace> {
  await fs.mkdir(base, { recursive: true });
  await removeAbandonedWorkspaces(base);
  const dir = await createScratchDirectory(base);
  const workspace = { path: dir, root: path.join(dir, 'root'), staging: path.join(dir, 'staging') };
  await fs.mkdir(workspace.root, { mode: 0o755 });
  await fs.mkdir(workspace.staging, { mode: 0o755 });
  return workspace;
}

/** A path on the image root's own file system (the root may be a tmpfs), for what is renamed out of it. */
export function besideRoot(root: string, name: string): string {
  return path.join(path.dirname(root), name);
}

/** Processes a killed build left running in its root (chrooted dpkg, a container's payload). */
function killProcessesInside(dir: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)) {
    if (pid === process.pid) continue;
    const inside = ['root', 'cwd'].some((link) => {
      try {
        const target = readlinkSync(`/proc/${pid}/${link}`);
        return target === dir || target.startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
    if (!inside) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A build killed with SIGKILL (or a power cut) cannot clean up after itself. The next build in the
 * same place finds its workspace — owner gone — and removes it, mounts first.
 */
export async function removeAbandonedWorkspaces(base: string): Promise<string[]> {
  return removeAbandoned(base, WORKSPACE_PREFIX, 'the workspace of a build');
}

/** The scratch directories named `prefix`… in `base` whose owner is gone; `what` they are, for the warning. */
export async function removeAbandoned(base: string, prefix: string, what: string): Promise<string[]> {
  const removed: string[] = [];
  const names = (await fs.readdir(base).catch(() => [] as string[])).filter((name) => name.startsWith(prefix));
  for (const name of names) {
    const dir = path.join(base, name);
    const owner = (await fs.readFile(path.join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim();
    const pid = Number.parseInt(owner, 10);
    // No owner file: a workspace of an older kiln or one killed while being made; leave it alone.
    if (!owner || !Number.isInteger(pid) || processIdentity(pid) === owner) continue;
    warn(`removing ${dir}, ${what} that was killed`);
    killProcessesInside(dir);
    await removeWorkspace(dir);
    removed.push(dir);
  }
  return removed;
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
