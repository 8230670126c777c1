/**
 * Format=directory with Incremental=yes: each rebuild replaces a tree of thousands of files by one
 * that differs from it in a few. Copying the cached root for the new image and deleting the old
 * image were most of a rebuild's time — deleting above all: ext4 frees every file's blocks, and on a
 * file system mounted with `discard` (virtual machine and cloud disks often are) it sends each
 * extent to the disk as it goes, a few seconds for a 100 MB root.
 *
 * So the image a build replaces is not deleted but kept in the root cache as that output's spare,
 * and the next build makes its root from the spare instead of a fresh copy: rsync brings it to
 * exactly the cached root — contents compared by checksum whatever the sizes and times say (the
 * user may have changed the old image; SourceDateEpoch= gives files the same times), owners, modes,
 * hard links, ACLs and xattrs — and rewrites only what differs. Without rsync, or if anything goes
 * wrong, the root is copied as before. A spare is claimed by renaming it, so two builds never share
 * one; the cache's eviction keeps at most KEEP_SPARES of them.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { locateTool } from '../host-tools.js';
import { debug, warn } from '../log.js';
import { run } from '../run.js';
import { mountsBelow } from '../workspace.js';

/** How many outputs' spares the root cache keeps (the most recently stored). */
export const KEEP_SPARES = 2;

export const SPARE_PREFIX = 'spare-';

/** Where the spare of this configuration's output lives: beside the cached roots, one per output path. */
export function sparePath(config: Config): string {
  const digest = createHash('sha256').update(path.resolve(config.Output)).digest('hex').slice(0, 16);
  return path.join(config.Cache!, 'roots', `${SPARE_PREFIX}${digest}`);
}

function usesSpares(config: Config): boolean {
  return config.Incremental && config.Format === 'directory' && config.Cache !== null && locateTool('rsync', config.ExtraSearchPaths) !== undefined;
}

/**
 * Makes `root` (an empty directory) the spare of this output, if there is one; false otherwise. The
 * caller brings it up to date with refreshSpare().
 */
export async function claimSpare(config: Config, root: string): Promise<boolean> {
  if (!usesSpares(config)) return false;
  const spare = sparePath(config);
  if (mountsBelow(spare).length > 0) return false;
  try {
    await fs.rename(spare, root);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') debug(`not using the spare ${spare}: ${(error as Error).message}`);
    return false;
  }
}

/**
 * Brings the claimed spare at `root` to exactly the tree at `source`. On failure the half-updated
 * tree is moved to `discard` (inside the workspace, removed with it) and an empty `root` is left for
 * a plain copy; the return value says which happened.
 */
export async function refreshSpare(source: string, root: string, discard: string, searchPaths: readonly string[]): Promise<boolean> {
  try {
    // --checksum: a file of the same size and time is still compared by content; times are compared
    // to the nanosecond (rsync's default is whole seconds).
    await run(['rsync', '--archive', '--hard-links', '--acls', '--xattrs', '--numeric-ids', '--delete', '--checksum', '--modify-window=-1', `${source}/`, `${root}/`], {
      what: 'Bringing the previous image up to date with the cached root',
      searchPaths,
    });
    return true;
  } catch (error) {
    warn(`could not reuse the previous image (${(error as Error).message.split('\n')[0]}); copying the cached root instead`);
    await fs.rename(root, discard);
    await fs.mkdir(root, { mode: 0o755 });
    return false;
  }
}

/**
 * After a successful commit: keeps the replaced image, moved aside to `previous`, as the spare of
 * this output instead of deleting it. Anything in the way (a spare already there, another file
 * system, something mounted in it) leaves it where it is, to be deleted with the workspace.
 */
export async function keepAsSpare(config: Config, previous: string): Promise<void> {
  if (!usesSpares(config)) return;
  const spare = sparePath(config);
  try {
    if (mountsBelow(previous).length > 0) return;
    // rename() would replace an empty directory: a spare already there, even empty, stays.
    if (await fs.lstat(spare).then(() => true, () => false)) return;
    await fs.mkdir(path.dirname(spare), { recursive: true });
    await fs.rename(previous, spare);
    // Eviction keeps the most recently stored spares.
    await fs.utimes(spare, new Date(), new Date());
  } catch (error) {
    debug(`not keeping ${previous} as the spare of ${config.Output}: ${(error as Error).message}`);
  }
}
