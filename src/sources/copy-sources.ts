/**
 * Copies BuildSources= into a fresh directory the way SourceFileTransfer= says (mkosi 14's
 * install_build_src()): copy-all walks the tree, the copy-git-* modes copy what git lists. Files keep
 * their mode and modification time — make and meson decide what to rebuild from those — and
 * symlinks stay links unless SourceResolveSymlinks= (copy-all only, as in mkosi 14) asks for what
 * they point to. The target is a directory kiln just made; nothing is written through a link in it.
 */
import { constants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SourceFileTransfer } from '../config/types.js';
import { UserError } from '../errors.js';
import { debug } from '../log.js';
import { targetInRoot } from '../tree/safe-path.js';
import { isExcluded, isExcludedPath, type Exclusions } from './exclusions.js';
import { gitFiles } from './git-files.js';

export interface SourceCopy {
  readonly sources: string;
  readonly mode: Exclude<SourceFileTransfer, 'mount'>;
  readonly resolveSymlinks: boolean;
  readonly exclusions: Exclusions;
}

async function copyFile(from: string, to: string, stat: Stats): Promise<void> {
  await fs.copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await fs.chmod(to, stat.mode & 0o7777);
  await fs.utimes(to, stat.atime, stat.mtime);
}

async function statFollowing(file: string, display: string): Promise<Stats> {
  try {
    return await fs.stat(file);
  } catch {
    throw new UserError(`BuildSources=: ${display} is a symbolic link to ${await fs.readlink(file)}, which does not exist`, {
      hint: 'with SourceResolveSymlinks=yes every link in the sources must lead somewhere; fix or remove it',
    });
  }
}

/**
 * Copies one entry (and, for a directory, what is below it) from `from` to the new path `to`.
 * `above` holds the directories being copied around it, so that a followed link back up is caught.
 */
async function copyEntry(copy: SourceCopy, from: string, to: string, stat: Stats, above: readonly string[] = []): Promise<void> {
  if (stat.isSymbolicLink()) {
    if (!copy.resolveSymlinks) {
      await fs.symlink(await fs.readlink(from), to);
      await fs.lutimes(to, stat.atime, stat.mtime);
      return;
    }
    return copyEntry(copy, from, to, await statFollowing(from, path.relative(copy.sources, from)), above);
  }
  if (stat.isDirectory()) {
    const identity = `${stat.dev}:${stat.ino}`;
    if (above.includes(identity)) {
      throw new UserError(`BuildSources=: ${path.relative(copy.sources, from)} is a symbolic link to a directory that contains it`, {
        hint: 'SourceResolveSymlinks=yes cannot copy a loop; remove the link or copy links as links',
      });
    }
    await fs.mkdir(to, { mode: stat.mode & 0o7777 });
    for (const name of (await fs.readdir(from)).sort()) {
      const child = path.join(from, name);
      if (isExcluded(copy.exclusions, child)) continue;
      await copyEntry(copy, child, path.join(to, name), await fs.lstat(child), [...above, identity]);
    }
    await fs.chmod(to, stat.mode & 0o7777);
    await fs.utimes(to, stat.atime, stat.mtime);
    return;
  }
  if (stat.isFile()) return copyFile(from, to, stat);
  debug(`not copied into the sources: ${from} (neither a file, a directory nor a link)`);
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/** Copies the sources into `target` (which must not exist yet); returns how many entries git listed, or null for copy-all. */
export async function copySources(copy: SourceCopy, target: string): Promise<number | null> {
  if (copy.mode === 'copy-all') {
    await copyEntry(copy, copy.sources, target, await fs.stat(copy.sources));
    return null;
  }
  await fs.mkdir(target, { mode: 0o755 });
  const listed = await gitFiles(copy.sources, copy.mode);
  for (const relative of listed) {
    if (isExcludedPath(copy.exclusions, copy.sources, relative)) continue;
    const from = path.join(copy.sources, relative);
    // Tracked but deleted from the work tree: the work tree is what the user has.
    const stat = await lstatOrUndefined(from);
    if (!stat) continue;
    // Parents are resolved inside the target: a link copied earlier is never written through.
    const to = await targetInRoot(target, relative);
    if (await lstatOrUndefined(to)) continue;
    await copyEntry({ ...copy, resolveSymlinks: false }, from, to, stat);
  }
  return listed.length;
}
