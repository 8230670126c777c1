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
import { showPath } from './show-path.js';
import { walkTree } from './walk.js';

const MAX_LINKS = 40;

// Paths are handled as "raw" strings, one character per byte (latin1), so that path.posix can work
// on names that are not UTF-8 and none is re-encoded.
const raw = (file: string | Buffer): string => (Buffer.isBuffer(file) ? file : Buffer.from(file)).toString('latin1');
const bytes = (file: string): Buffer => Buffer.from(file, 'latin1');

/** Whether following `link` the way the host kernel would ever steps outside `root`. */
export async function escapesRoot(root: string | Buffer, link: string | Buffer): Promise<boolean> {
  const top = raw(root);
  let current = path.dirname(raw(link));
  const pending = (await fs.readlink(bytes(raw(link)), { encoding: 'latin1' })).split('/');
  if (pending[0] === '') current = '/';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    current = part === '..' ? path.dirname(current) : path.join(current, part);
    if (!isInside(top, current)) return true;
    let stat;
    try {
      stat = await fs.lstat(bytes(current));
    } catch {
      continue; // the rest is resolved lexically; isInside() still checks every step
    }
    if (!stat.isSymbolicLink()) continue;
    if (++links > MAX_LINKS) return true;
    const target = await fs.readlink(bytes(current), { encoding: 'latin1' });
    current = path.dirname(current);
    if (target.startsWith('/')) current = '/';
    pending.unshift(...target.split('/'));
  }
  return false;
}

export interface Defused {
  /** Puts the links back where they were (replacing what a tool may have created there). */
  restore(): Promise<void>;
}

/**
 * `added`: the directory holding only what was added to the root (BaseImage='s upper layer), which is
 * walked instead of the whole root — the base's own links stay where they are.
 */
export async function defuseEscapingLinks(root: string, stash: string, added?: string): Promise<Defused> {
  const moved: { relative: Buffer; parked: string }[] = [];
  // Collected first: the walk must not see the tree change under it.
  const leaving: { path: Buffer; relative: Buffer }[] = [];
  for await (const entry of walkTree(added ?? root)) {
    if (!entry.stat.isSymbolicLink()) continue;
    const link = added === undefined ? entry.path : bytes(path.join(raw(root), raw(entry.relative)));
    if (await escapesRoot(root, link)) leaving.push({ path: link, relative: entry.relative });
  }
  for (const link of leaving) {
    if (moved.length === 0) await fs.mkdir(stash, { recursive: true });
    const parked = path.join(stash, String(moved.length));
    await fs.rename(link.path, parked);
    moved.push({ relative: link.relative, parked });
  }
  return {
    async restore() {
      for (const { relative, parked } of moved) {
        const original = bytes(path.join(raw(root), raw(relative)));
        const now = await fs.lstat(original).catch(() => undefined);
        if (now?.isDirectory()) {
          warn(`/${showPath(relative)} from the skeleton is a directory after installing packages; the symlink was not put back`);
          continue;
        }
        if (now) await fs.unlink(original);
        const parent = await mkdirInRoot(root, bytes(path.dirname(raw(relative))));
        await fs.rename(parked, Buffer.concat([parent, Buffer.from('/'), bytes(path.basename(raw(relative)))]));
      }
      // Empty now (or holding what was not put back, which warned): it may be inside the root.
      if (moved.length > 0) await fs.rm(stash, { recursive: true, force: true });
    },
  };
}
