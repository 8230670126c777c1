/**
 * Copies BuildSources= into a fresh directory the way SourceFileTransfer= says (mkosi 14's
 * install_build_src()): copy-all walks the tree, the copy-git-* modes copy what git lists. Files keep
 * their mode and modification time — make and meson decide what to rebuild from those — and
 * symlinks stay links unless SourceResolveSymlinks= (copy-all only, as in mkosi 14) asks for what
 * they point to. Names are bytes. The target is a directory kiln just made; nothing is written
 * through a link in it.
 */
import { constants, type BigIntStats } from 'node:fs';
import fs from 'node:fs/promises';
import type { SourceFileTransfer } from '../config/types.js';
import { UserError } from '../errors.js';
import { debug } from '../log.js';
import { targetInRoot } from '../tree/safe-path.js';
import { showPath } from '../tree/show-path.js';
import { joinBytes } from '../tree/walk.js';
import { isExcluded, isExcludedPath, type Exclusions } from './exclusions.js';
import { gitFiles } from './git-files.js';

export interface SourceCopy {
  readonly sources: string;
  readonly mode: Exclude<SourceFileTransfer, 'mount'>;
  readonly resolveSymlinks: boolean;
  readonly exclusions: Exclusions;
}

function permissions(stat: BigIntStats): number {
  return Number(stat.mode) & 0o7777;
}

async function copyFile(from: Buffer, to: Buffer, stat: BigIntStats): Promise<void> {
  await fs.copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await fs.chmod(to, permissions(stat));
  await fs.utimes(to, stat.atime, stat.mtime);
}

/** The path of `file` below the sources, for messages. */
function shown(copy: SourceCopy, file: Buffer): string {
  return showPath(file.subarray(Buffer.byteLength(copy.sources.replace(/\/+$/, '')) + 1));
}

async function statFollowing(copy: SourceCopy, file: Buffer): Promise<BigIntStats> {
  try {
    return await fs.stat(file, { bigint: true });
  } catch {
    const target = await fs.readlink(file, { encoding: 'buffer' });
    throw new UserError(`BuildSources=: ${shown(copy, file)} is a symbolic link to ${showPath(target)}, which does not exist`, {
      hint: 'with SourceResolveSymlinks=yes every link in the sources must lead somewhere; fix or remove it',
    });
  }
}

/**
 * Copies one entry (and, for a directory, what is below it) from `from` to the new path `to`.
 * `above` holds the directories being copied around it, so that a followed link back up is caught.
 */
async function copyEntry(copy: SourceCopy, from: Buffer, to: Buffer, stat: BigIntStats, above: readonly string[] = []): Promise<void> {
  if (stat.isSymbolicLink()) {
    if (!copy.resolveSymlinks) {
      await fs.symlink(await fs.readlink(from, { encoding: 'buffer' }), to);
      await fs.lutimes(to, stat.atime, stat.mtime);
      return;
    }
    return copyEntry(copy, from, to, await statFollowing(copy, from), above);
  }
  if (stat.isDirectory()) {
    const identity = `${stat.dev}:${stat.ino}`;
    if (above.includes(identity)) {
      throw new UserError(`BuildSources=: ${shown(copy, from)} is a symbolic link to a directory that contains it`, {
        hint: 'SourceResolveSymlinks=yes cannot copy a loop; remove the link or copy links as links',
      });
    }
    await fs.mkdir(to, { mode: permissions(stat) });
    for (const name of (await fs.readdir(from, { encoding: 'buffer' })).sort(Buffer.compare)) {
      const child = joinBytes(from, name);
      if (isExcluded(copy.exclusions, child)) continue;
      await copyEntry(copy, child, joinBytes(to, name), await fs.lstat(child, { bigint: true }), [...above, identity]);
    }
    await fs.chmod(to, permissions(stat));
    await fs.utimes(to, stat.atime, stat.mtime);
    return;
  }
  if (stat.isFile()) return copyFile(from, to, stat);
  debug(`not copied into the sources: ${showPath(from)} (neither a file, a directory nor a link)`);
}

async function lstatOrUndefined(file: Buffer): Promise<BigIntStats | undefined> {
  try {
    return await fs.lstat(file, { bigint: true });
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/** Copies the sources into `target` (which must not exist yet). */
export async function copySources(copy: SourceCopy, target: string): Promise<void> {
  const sources = Buffer.from(copy.sources.replace(/(?<=.)\/+$/, ''));
  if (copy.mode === 'copy-all') {
    await copyEntry(copy, sources, Buffer.from(target), await fs.stat(sources, { bigint: true }));
    return;
  }
  await fs.mkdir(target, { mode: 0o755 });
  for (const relative of await gitFiles(copy.sources, copy.mode)) {
    if (isExcludedPath(copy.exclusions, copy.sources, relative)) continue;
    const from = joinBytes(sources, relative);
    // Tracked but deleted from the work tree: the work tree is what the user has.
    const stat = await lstatOrUndefined(from);
    if (!stat) continue;
    // Parents are resolved inside the target: a link copied earlier is never written through.
    const to = await targetInRoot(target, relative);
    if (await lstatOrUndefined(to)) continue;
    await copyEntry({ ...copy, resolveSymlinks: false }, from, to, stat);
  }
}
