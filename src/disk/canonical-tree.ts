/**
 * The tree as `mkfs.ext4 -d` and `mkfs.btrfs --rootdir` must see it in a reproducible build. Both
 * read directories in whatever order the kernel lists them — on ext4 the order of a hash seeded
 * differently on every machine, on tmpfs the order the build happened to create files in — and
 * mkfs.btrfs of btrfs-progs 6.2 even keeps the tree's inode numbers, which count every file the
 * build ever created (apt's parallel downloads included). So the tree is copied, in sorted order
 * (GNU tar --sort=name into GNU tar), into a fresh tmpfs: there directories list in creation order
 * and inode numbers count up from the start of the copy, the same in every build of the same tree.
 * Owners, modes, times, hard links, device nodes and extended attributes (capabilities, ACLs) are
 * kept; sockets, which no image needs, are left out.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { KilnError } from '../errors.js';
import { debug, warn } from '../log.js';
import { availableMemory } from '../memory-root.js';
import { finish, run, spawn } from '../run.js';
import { formatBytes } from './layout.js';
import { measureTree } from './tree-usage.js';

/** What stays free for the rest of the machine beyond the copy. */
const SPARE = 1024 ** 3;
/** tmpfs counts whole pages and its own directory entries; the copy gets this much more than the tree. */
const MARGIN = 1.1;
const SLACK = 16 * 1024 ** 2;

const TAR_OPTIONS = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];

/** The copy's tmpfs size, or why the tree cannot be copied into memory. Pure, for tests. */
export function canonicalCopyPlan(treeBytes: number, meminfo: string): { bytes: number } | { why: string } {
  const bytes = Math.ceil((treeBytes * MARGIN + SLACK) / 4096) * 4096;
  const available = availableMemory(meminfo);
  if (available === undefined || available < bytes + SPARE) return { why: `copying its ${formatBytes(treeBytes)} needs ${formatBytes(bytes + SPARE)} of available memory` };
  return { bytes };
}

async function copySorted(tree: string, copy: string, what: string, searchPaths: readonly string[]): Promise<void> {
  const create = ['tar', '--create', '--sort=name', ...TAR_OPTIONS, '--warning=no-file-ignored', '--one-file-system', '--directory', tree, '--file', '-', '.'];
  const extract = ['tar', '--extract', ...TAR_OPTIONS, '--same-permissions', '--same-owner', '--directory', copy, '--file', '-'];
  // Byte order, whatever the locale.
  const reader = spawn(create, { stdout: 'pipe', env: { LC_ALL: 'C' }, what, searchPaths });
  const writer = spawn(extract, { stdin: 'pipe', what, searchPaths });
  const results = await Promise.allSettled([pipeline(reader.stdout!, writer.stdin!), finish(reader, create, { what }), finish(writer, extract, { what })]);
  // The tools' own errors say more than the broken pipe between them.
  const failed = [results[1], results[2], results[0]].find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Runs `work` on a sorted copy of `tree` in a tmpfs below `scratch`, removed afterwards. Where memory
 * or mounting does not allow it, `work` gets the tree itself, with a warning that the image may
 * then differ between builds.
 */
export async function withCanonicalTree<T>(
  tree: string,
  scratch: string,
  contents: string,
  searchPaths: readonly string[],
  work: (tree: string) => Promise<T>,
): Promise<T> {
  const usage = await measureTree(tree);
  const plan = canonicalCopyPlan(usage.bytes, readFileSync('/proc/meminfo', 'utf8'));
  const unreproducible = (why: string): Promise<T> => {
    warn(`the file system for ${contents} is made from the tree as it lies, so it may differ between builds: ${why}`);
    return work(tree);
  };
  if ('why' in plan) return unreproducible(plan.why);
  const mountPoint = await fs.mkdtemp(path.join(scratch, 'canonical-'));
  try {
    await run(['mount', '-t', 'tmpfs', '-o', `size=${plan.bytes},mode=0755`, 'kiln-canonical', mountPoint], { what: 'Mounting a tmpfs for a sorted copy of the tree' });
  } catch (error) {
    if (!(error instanceof KilnError)) throw error;
    await fs.rmdir(mountPoint);
    return unreproducible(error.message);
  }
  try {
    debug(`sorted copy of ${contents} in a tmpfs of ${formatBytes(plan.bytes)} at ${mountPoint}`);
    await copySorted(tree, mountPoint, `Copying ${contents} in sorted order`, searchPaths);
    return await work(mountPoint);
  } finally {
    await run(['umount', mountPoint], { what: `Unmounting ${mountPoint}`, uninterruptible: true });
    await fs.rmdir(mountPoint);
  }
}
