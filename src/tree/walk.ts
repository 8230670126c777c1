/**
 * The one walk over a directory tree that every reader of trees uses (copying skeleton and extra
 * trees, measuring a tree for its file system, cache keys, the XFS prototype, the tar writer).
 * Depth first in a fixed order: each directory before its contents, the names of a directory
 * sorted bytewise (what `tar --sort=name` and `LC_ALL=C ls` do), so the same tree always gives the
 * same result. Names are bytes: file names on Linux need not be UTF-8, and a name decoded into a
 * JavaScript string and encoded again is a different name, or none.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';

export interface TreeEntry {
  /** Path below the root, without a leading slash; empty for the root itself. */
  readonly relative: Buffer;
  /** Absolute path. */
  readonly path: Buffer;
  /** The last component of `relative`; empty for the root. */
  readonly name: Buffer;
  /** 0 for the root, 1 for its entries, and so on. */
  readonly depth: number;
  readonly stat: BigIntStats;
  /** A directory's names, sorted (directories only). */
  readonly children?: readonly Buffer[];
  /**
   * Set on the second visit of a directory, after everything below it (only with `leave: true`):
   * for what must come after the contents (a directory's own times, the end of a listing).
   */
  readonly leaving?: true;
}

export interface WalkOptions {
  /** Yield each directory a second time, with `leaving`, after its contents. */
  readonly leave?: boolean;
}

const SLASH = Buffer.from('/');
const EMPTY = Buffer.alloc(0);

export function joinBytes(parent: Buffer, name: Buffer): Buffer {
  return parent.length === 0 ? name : Buffer.concat([parent, SLASH, name]);
}

interface Frame {
  readonly directory: TreeEntry;
  readonly entries: TreeEntry[];
  next: number;
}

/** The entries of one directory, sorted, each with its lstat (taken in parallel: one directory at a time). */
async function listDirectory(root: Buffer, directory: TreeEntry): Promise<TreeEntry[]> {
  return Promise.all(
    (directory.children ?? []).map(async (name) => {
      const relative = joinBytes(directory.relative, name);
      const path = joinBytes(root, relative);
      return { relative, path, name, depth: directory.depth + 1, stat: await lstat(path, { bigint: true }) };
    }),
  );
}

/** A directory's entry carries its sorted names, read before it is yielded. */
async function withChildren(entry: TreeEntry): Promise<TreeEntry> {
  if (!entry.stat.isDirectory()) return entry;
  const names = await readdir(entry.path, { encoding: 'buffer' });
  return { ...entry, children: names.sort(Buffer.compare) };
}

/**
 * Yields the root, then every entry below it. Only one directory listing per level is held in
 * memory, so a tree of any size walks in memory proportional to its depth and widest directory.
 * Symlinks are never followed (the root itself included).
 */
export async function* walkTree(root: string | Buffer, options: WalkOptions = {}): AsyncGenerator<TreeEntry> {
  const rootBytes = typeof root === 'string' ? Buffer.from(root.replace(/(?<=.)\/+$/, '')) : root;
  const top = await withChildren({ relative: EMPTY, path: rootBytes, name: EMPTY, depth: 0, stat: await lstat(rootBytes, { bigint: true }) });
  yield top;
  if (!top.stat.isDirectory()) return;
  const stack: Frame[] = [{ directory: top, entries: await listDirectory(rootBytes, top), next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const listed = frame.entries[frame.next++];
    if (listed === undefined) {
      stack.pop();
      if (options.leave) yield { ...frame.directory, leaving: true };
      continue;
    }
    // Listed only now, so that one listing per level is held, not those of all its subdirectories.
    const entry = await withChildren(listed);
    yield entry;
    if (entry.stat.isDirectory()) stack.push({ directory: entry, entries: await listDirectory(rootBytes, entry), next: 0 });
  }
}
