/**
 * Copies a skeleton or extra tree into the image the way mkosi 14 does (files and directories keep
 * their mode and mtime but become root's, symlinks are copied as symlinks, existing files are
 * replaced, device nodes are skipped) — except that every destination is resolved inside the image
 * root, so a symlink in the image or in the tree never leads a write outside it.
 */
import { constants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { warn } from '../log.js';
import { mkdirInRoot, targetInRoot } from './safe-path.js';

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes whatever sits at `target` (never following it) so that a new entry can take its place. */
async function clearTarget(target: string, existing: Stats | undefined, imagePath: string): Promise<void> {
  if (!existing) return;
  if (existing.isDirectory()) {
    throw new UserError(`cannot copy /${imagePath} into the image: a directory of that name is already there`);
  }
  await fs.unlink(target);
}

async function copyFile(source: string, target: string, stat: Stats): Promise<void> {
  // EXCL: the target was just cleared; if anything (a symlink) appeared there, fail rather than follow.
  await fs.copyFile(source, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await fs.chmod(target, stat.mode & 0o7777);
  await fs.utimes(target, stat.atime, stat.mtime);
}

/** Copies the contents of directory `source` into the image root `root`. */
export async function copyTreeIntoRoot(source: string, root: string): Promise<void> {
  await copyDirectory(source, root, '');
}

async function copyDirectory(source: string, root: string, imageDir: string): Promise<void> {
  const entries = (await fs.readdir(source, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const from = path.join(source, entry.name);
    const imagePath = path.posix.join(imageDir, entry.name);
    const stat = await fs.lstat(from);
    if (stat.isDirectory()) {
      // A symlink to a directory in the image is followed (within the root): merged /usr works.
      const target = await mkdirInRoot(root, imagePath, stat.mode & 0o7777);
      await copyDirectory(from, root, path.relative(root, target));
      await fs.chmod(target, stat.mode & 0o7777);
      await fs.utimes(target, stat.atime, stat.mtime);
      continue;
    }
    const target = await targetInRoot(root, imagePath);
    const existing = await lstatOrUndefined(target);
    if (stat.isSymbolicLink()) {
      await clearTarget(target, existing, imagePath);
      await fs.symlink(await fs.readlink(from), target);
      await fs.lutimes(target, stat.atime, stat.mtime);
    } else if (stat.isFile()) {
      await clearTarget(target, existing, imagePath);
      await copyFile(from, target, stat);
    } else {
      warn(`ignoring ${from}: kiln copies only files, directories and symlinks from trees (like mkosi 14)`);
    }
  }
}

