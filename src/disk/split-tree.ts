/**
 * With HomeSize=, SrvSize= or TmpSize=, the contents of /home, /srv or /var/tmp go into partitions of
 * their own and the root keeps empty mount points. mkfs.ext4 -d and mkfs.btrfs --rootdir take whole
 * directories and cannot leave anything out, so while the file systems are made each such directory
 * is renamed out of the root (beside it, on its file system) and an empty one with the same
 * owner, mode and times takes its place. Afterwards everything is put back as it was, whatever
 * happened; renames are instant and copy nothing. An incremental build's root is an overlay of the
 * cached root, which cannot rename a directory of its lower layer (EXDEV): such a directory is
 * copied aside and back instead (mount points hold little: /home, /srv and /var/tmp of an image).
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { run } from '../run.js';

interface Moved {
  readonly mountPoint: string;
  readonly inRoot: string;
  readonly aside: string;
  /** The directory did not exist in the tree: the mount point was made up and goes away again. */
  readonly created: boolean;
  /** Copied aside rather than renamed (an overlay root): copied back the same way. */
  readonly copied: boolean;
  readonly parentStat: Stats;
  /** The parent (/var for /var/tmp) did not exist either and was made for the mount point. */
  readonly createdParent: boolean;
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  return fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/** Refuses a mount point reached through a symlink: renaming there would act outside the image. */
async function checkPath(root: string, mountPoint: string): Promise<void> {
  let current = root;
  for (const part of mountPoint.split('/').filter(Boolean)) {
    current = path.join(current, part);
    const stat = await lstatOrUndefined(current);
    if (stat === undefined) return;
    if (!stat.isDirectory()) {
      throw new UserError(`cannot give ${mountPoint} a partition of its own: /${path.relative(root, current)} in the image is not a directory`);
    }
  }
}

async function copyAttributes(target: string, stat: Stats): Promise<void> {
  await fs.chown(target, stat.uid, stat.gid);
  await fs.chmod(target, stat.mode & 0o7777);
  await fs.utimes(target, stat.atime, stat.mtime);
}

async function moveAside(root: string, mountPoint: string, scratch: string): Promise<Moved> {
  await checkPath(root, mountPoint);
  const inRoot = path.join(root, mountPoint);
  const parent = path.dirname(inRoot);
  const aside = path.join(scratch, `tree-${mountPoint.replace(/^\/+/, '').replaceAll('/', '-')}`);
  const existing = await lstatOrUndefined(inRoot);
  const createdParent = (await lstatOrUndefined(parent)) === undefined;
  if (createdParent) await fs.mkdir(parent, { mode: 0o755 });
  const parentStat = await fs.stat(parent);
  let copied = false;
  if (existing === undefined) {
    await fs.mkdir(aside, { mode: 0o755 });
    await fs.mkdir(inRoot, { mode: 0o755 });
    // /var/tmp is world-writable with the sticky bit, in the image as on every system.
    if (mountPoint === '/var/tmp') {
      await fs.chmod(inRoot, 0o1777);
      await fs.chmod(aside, 0o1777);
    }
  } else {
    copied = await fs.rename(inRoot, aside).then(
      () => false,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV') throw error;
        return true;
      },
    );
    if (copied) {
      await copyTree(inRoot, aside);
      await fs.rm(inRoot, { recursive: true });
    }
    await fs.mkdir(inRoot);
    await copyAttributes(inRoot, existing);
  }
  await fs.utimes(parent, parentStat.atime, parentStat.mtime);
  return { mountPoint, inRoot, aside, created: existing === undefined, copied, parentStat, createdParent };
}

async function copyTree(from: string, to: string): Promise<void> {
  await run(['cp', '-a', '--reflink=auto', '--no-target-directory', from, to], { what: `Copying ${from}` });
}

async function putBack(moved: Moved): Promise<void> {
  await fs.rmdir(moved.inRoot);
  if (moved.created) await fs.rmdir(moved.aside);
  else if (moved.copied) {
    await copyTree(moved.aside, moved.inRoot);
    await fs.rm(moved.aside, { recursive: true });
  } else await fs.rename(moved.aside, moved.inRoot);
  if (moved.createdParent) await fs.rmdir(path.dirname(moved.inRoot));
  else await fs.utimes(path.dirname(moved.inRoot), moved.parentStat.atime, moved.parentStat.mtime);
}

/**
 * Runs `work` with each of `mountPoints` ("/home", "/var/tmp") moved out of `root`; `work` gets the
 * directory that holds the contents of each. The root is restored before this returns or throws.
 */
export async function withSplitTree<T>(
  root: string,
  mountPoints: readonly string[],
  scratch: string,
  work: (trees: ReadonlyMap<string, string>) => Promise<T>,
): Promise<T> {
  const moved: Moved[] = [];
  try {
    for (const mountPoint of mountPoints) moved.push(await moveAside(root, mountPoint, scratch));
    return await work(new Map(moved.map((m) => [m.mountPoint, m.aside])));
  } finally {
    const errors: unknown[] = [];
    for (const m of moved.reverse()) await putBack(m).catch((error: unknown) => errors.push(error));
    if (errors.length > 0) {
      throw new Error(`internal: could not restore ${moved.map((m) => m.mountPoint).join(', ')} in the image root: ${String(errors[0])}`);
    }
  }
}
