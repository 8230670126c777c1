/**
 * Bootstrap tools (mmdebstrap, debootstrap, pacman --root) work on the image from the host: they
 * copy resolv.conf in, write apt configuration, unpack files — following symlinks the way the host
 * sees them. A skeleton tree that put `etc/hostname -> /etc/hostname` or `etc/apt -> /etc/apt` into
 * the root would then make them write onto the host. Before such a tool runs, every symlink whose
 * host-side resolution leaves the root is moved aside, and put back afterwards.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { warn } from '../log.js';
import { isInside, mkdirInRoot } from './safe-path.js';

const MAX_LINKS = 40;

/** Whether following `link` the way the host kernel would ever steps outside `root`. */
export async function escapesRoot(root: string, link: string): Promise<boolean> {
  let current = path.dirname(link);
  const pending = (await fs.readlink(link)).split('/');
  if (pending[0] === '') current = '/';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    current = part === '..' ? path.dirname(current) : path.join(current, part);
    if (!isInside(root, current)) return true;
    let stat;
    try {
      stat = await fs.lstat(current);
    } catch {
      continue; // the rest is resolved lexically; isInside() still checks every step
    }
    if (!stat.isSymbolicLink()) continue;
    if (++links > MAX_LINKS) return true;
    const target = await fs.readlink(current);
    current = path.dirname(current);
    if (target.startsWith('/')) current = '/';
    pending.unshift(...target.split('/'));
  }
  return false;
}

async function* symlinksBelow(dir: string): AsyncGenerator<string> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) yield full;
    else if (entry.isDirectory()) yield* symlinksBelow(full);
  }
}

export interface Defused {
  /** Puts the links back where they were (replacing what a tool may have created there). */
  restore(): Promise<void>;
}

export async function defuseEscapingLinks(root: string, stash: string): Promise<Defused> {
  const moved: { original: string; parked: string }[] = [];
  for await (const link of symlinksBelow(root)) {
    if (!(await escapesRoot(root, link))) continue;
    if (moved.length === 0) await fs.mkdir(stash, { recursive: true });
    const parked = path.join(stash, String(moved.length));
    await fs.rename(link, parked);
    moved.push({ original: link, parked });
  }
  return {
    async restore() {
      for (const { original, parked } of moved) {
        const now = await fs.lstat(original).catch(() => undefined);
        if (now?.isDirectory()) {
          warn(`/${path.relative(root, original)} from the skeleton is a directory after installing packages; the symlink was not put back`);
          continue;
        }
        if (now) await fs.unlink(original);
        const parent = await mkdirInRoot(root, path.relative(root, path.dirname(original)));
        await fs.rename(parked, path.join(parent, path.basename(original)));
      }
    },
  };
}
