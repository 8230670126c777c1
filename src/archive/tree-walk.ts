/**
 * A depth-first walk of a directory tree in a fixed order: each directory before its contents, the
 * names of a directory sorted bytewise (what `tar --sort=name` and `LC_ALL=C ls` do), so the same
 * tree always gives the same archive. Names are bytes: file names on Linux need not be UTF-8.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';

export interface TreeEntry {
  /** Path below the root, without a leading slash; empty for the root itself. */
  readonly relative: Buffer;
  /** Absolute path. */
  readonly path: Buffer;
  readonly stat: BigIntStats;
}

const SLASH = Buffer.from('/');

function join(parent: Buffer, name: Buffer): Buffer {
  return parent.length === 0 ? name : Buffer.concat([parent, SLASH, name]);
}

/** The entries of one directory, sorted, each with its lstat (taken in parallel: one directory at a time). */
async function listDirectory(root: Buffer, directory: Buffer): Promise<TreeEntry[]> {
  const names = await readdir(join(root, directory), { encoding: 'buffer' });
  names.sort(Buffer.compare);
  return Promise.all(
    names.map(async (name) => {
      const relative = join(directory, name);
      const path = join(root, relative);
      return { relative, path, stat: await lstat(path, { bigint: true }) };
    }),
  );
}

/**
 * Yields the root, then every entry below it. Only one directory listing per level is held in
 * memory, so a tree of any size walks in memory proportional to its depth and widest directory.
 */
export async function* walkTree(root: string): AsyncGenerator<TreeEntry> {
  const rootBytes = Buffer.from(root.replace(/(?<=.)\/+$/, ''));
  const rootStat = await lstat(rootBytes, { bigint: true });
  yield { relative: Buffer.alloc(0), path: rootBytes, stat: rootStat };
  if (!rootStat.isDirectory()) return;
  const stack: { entries: TreeEntry[]; next: number }[] = [{ entries: await listDirectory(rootBytes, Buffer.alloc(0)), next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const entry = frame.entries[frame.next++];
    if (entry === undefined) {
      stack.pop();
      continue;
    }
    yield entry;
    if (entry.stat.isDirectory()) stack.push({ entries: await listDirectory(rootBytes, entry.relative), next: 0 });
  }
}
