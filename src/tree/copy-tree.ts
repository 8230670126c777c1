/**
 * Copies a skeleton or extra tree into the image the way mkosi 14 does (files and directories keep
 * their mode and mtime but become root's, symlinks are copied as symlinks, existing files are
 * replaced, device nodes are skipped) — except that every destination is resolved inside the image
 * root, so a symlink in the image or in the tree never leads a write outside it. Names are copied
 * as the bytes they are.
 */
import { constants, type BigIntStats } from 'node:fs';
import fs from 'node:fs/promises';
import { UserError } from '../errors.js';
import { warn } from '../log.js';
import { mkdirInRoot, targetInRoot } from './safe-path.js';
import { showPath } from './show-path.js';
import { joinBytes, walkTree } from './walk.js';

async function lstatOrUndefined(file: Buffer): Promise<BigIntStats | undefined> {
  try {
    return await fs.lstat(file, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes whatever sits at `target` (never following it) so that a new entry can take its place. */
async function clearTarget(target: Buffer, imagePath: Buffer): Promise<void> {
  const existing = await lstatOrUndefined(target);
  if (!existing) return;
  if (existing.isDirectory()) {
    throw new UserError(`cannot copy /${showPath(imagePath)} into the image: a directory of that name is already there`);
  }
  await fs.unlink(target);
}

function permissions(stat: BigIntStats): number {
  return Number(stat.mode) & 0o7777;
}

async function copyFile(source: Buffer, target: Buffer, stat: BigIntStats): Promise<void> {
  // EXCL: the target was just cleared; if anything (a symlink) appeared there, fail rather than follow.
  await fs.copyFile(source, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await fs.chmod(target, permissions(stat));
  await fs.utimes(target, stat.atime, stat.mtime);
}

/** Copies the contents of directory `source` into the image root `root`, or into the directory `into` of it. */
export async function copyTreeIntoRoot(source: string, root: string, into = ''): Promise<void> {
  const prefix = Buffer.from(into.replace(/^\/+|\/+$/g, ''));
  if (prefix.length > 0) await mkdirInRoot(root, prefix);
  // The image directories being filled, innermost last: their mode and times are set once their
  // contents are in (adding entries changes a directory's mtime).
  const directories: Buffer[] = [];
  for await (const entry of walkTree(source, { leave: true })) {
    const { stat } = entry;
    const relative = joinBytes(prefix, entry.relative);
    if (entry.depth === 0) continue;
    if (entry.leaving) {
      const target = directories.pop()!;
      await fs.chmod(target, permissions(stat));
      await fs.utimes(target, stat.atime, stat.mtime);
    } else if (stat.isDirectory()) {
      // A symlink to a directory in the image is followed (within the root): merged /usr works.
      directories.push(await mkdirInRoot(root, relative, permissions(stat)));
    } else if (stat.isSymbolicLink()) {
      const target = await targetInRoot(root, relative);
      await clearTarget(target, relative);
      await fs.symlink(await fs.readlink(entry.path, { encoding: 'buffer' }), target);
      await fs.lutimes(target, stat.atime, stat.mtime);
    } else if (stat.isFile()) {
      const target = await targetInRoot(root, relative);
      await clearTarget(target, relative);
      await copyFile(entry.path, target, stat);
    } else {
      warn(`ignoring ${showPath(entry.path)}: kiln copies only files, directories and symlinks from trees (like mkosi 14)`);
    }
  }
}
