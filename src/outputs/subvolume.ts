/**
 * Format=subvolume: the image root as a btrfs subvolume, with /home, /srv, /var, /var/tmp and
 * /var/lib/machines as subvolumes of their own where the tree has them (as mkosi 14 lays it out).
 * The tree is copied in with reflinks, which share the data blocks when the workspace is on the same
 * btrfs, as it is by default (it lives in the output directory). ReadOnly= sets the ro property
 * once the subvolume is in place.
 * An output directory that is not on btrfs is refused before the build starts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { run } from '../run.js';
import type { OutputFormat } from './types.js';

const BTRFS_SUPER_MAGIC = 0x9123683e;

/** Names for the file systems people are likely to have, for the message. */
const FILE_SYSTEM_NAMES: Readonly<Record<number, string>> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
  0x65735546: 'fuse',
  0x9123683e: 'btrfs',
};

/** mkosi 14's subvolumes below the root (prepare_tree), made where the tree has the directory. */
const NESTED_SUBVOLUMES = ['home', 'srv', 'var', 'var/tmp', 'var/lib/machines'];

/** The file-system type of `dir`, or of its nearest existing parent when it does not exist yet. */
async function fileSystemType(dir: string): Promise<{ type: number; at: string }> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      return { type: (await fs.statfs(current)).type, at: current };
    } catch (error) {
      const parent = path.dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
    }
  }
}

async function isDirectory(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

/** Sets the ro property of a subvolume; a plain directory (an old Format=directory output) is left alone. */
async function setReadOnly(subvolume: string, readOnly: boolean): Promise<void> {
  await run(['btrfs', 'property', 'set', '-ts', subvolume, 'ro', String(readOnly)], {
    what: readOnly ? `Making ${subvolume} read-only` : `Making ${subvolume} writable`,
    okCodes: readOnly ? [] : [1],
    uninterruptible: true,
  });
}

/**
 * Deletes a subvolume made by kiln (and the subvolumes in it), read-only or not. Removing an empty
 * subvolume with rmdir is allowed to root since Linux 4.18, so a recursive removal works once the
 * ro property is off.
 */
export async function removeSubvolume(dir: string): Promise<void> {
  if (!(await isDirectory(dir))) return;
  await setReadOnly(dir, false);
  await fs.rm(dir, { recursive: true, force: true });
}

export const subvolumeOutput: OutputFormat = {
  name: 'subvolume',

  requiredTools(): readonly string[] {
    return ['btrfs', 'cp'];
  },

  async check(config, outputDirectory): Promise<void> {
    // The subvolume is made in the workspace and renamed into the output directory, so both must be on btrfs.
    for (const [setting, dir] of [['OutputDirectory', outputDirectory], ['WorkspaceDirectory', config.WorkspaceDirectory]] as const) {
      if (dir === null) continue;
      const { type, at } = await fileSystemType(dir);
      if (type === BTRFS_SUPER_MAGIC) continue;
      const name = FILE_SYSTEM_NAMES[type] ?? `a file system of type 0x${type.toString(16)}`;
      const what = setting === 'OutputDirectory' ? 'the output directory' : 'the workspace (WorkspaceDirectory=)';
      throw new UserError(`Format=subvolume needs btrfs for ${what}, but ${at} is on ${name}`, {
        hint: `set ${setting}= to a directory on btrfs, or use Format=directory`,
      });
    }
  },

  async write(context: BuildContext): Promise<void> {
    const name = path.basename(context.config.Output);
    const target = path.join(context.staging, name);
    await run(['btrfs', 'subvolume', 'create', target], { what: 'Creating the output subvolume' });
    // Until the pipeline moves it into place: a subvolume left in staging would stop the removal of
    // the workspace (rm --one-file-system does not enter it).
    context.cleanup.push(`remove the staged subvolume ${target}`, () => removeSubvolume(target));
    // With --force, the pipeline moves a previous output aside into the workspace before renaming
    // this one into place (artifacts/commit.ts); a subvolume there needs the same care.
    const previous = path.join(context.workspace, `previous-${name}`);
    context.cleanup.push(`remove the previous subvolume ${previous}`, () => removeSubvolume(previous));
    for (const nested of NESTED_SUBVOLUMES) {
      if (!(await isDirectory(path.join(context.root, nested)))) continue;
      await fs.mkdir(path.dirname(path.join(target, nested)), { recursive: true });
      await run(['btrfs', 'subvolume', 'create', path.join(target, nested)], { what: `Creating the subvolume /${nested}` });
    }
    // cp -a copies owners, modes, times, hard links, xattrs and ACLs, and sets the attributes of the
    // directories that already exist (the subvolumes) from the tree's.
    await run(['cp', '-a', '--reflink=auto', '--', `${context.root}/.`, `${target}/`], { what: 'Copying the image into the subvolume' });
    context.artifacts.push({
      name,
      path: target,
      checksummed: false,
      isDirectory: true,
      // A read-only subvolume cannot be renamed (its ".." would change), so the old output is made
      // writable before it is moved aside and the new one read-only once it is in place, as mkosi 14 does.
      beforeReplace: (existing) => setReadOnly(existing, false),
      afterCommit: async (final) => {
        if (context.config.ReadOnly) await setReadOnly(final, true);
      },
    });
  },
};
