/**
 * XbootldrSize=: the Extended Boot Loader Partition, a FAT file system mounted on /boot in the booted
 * system (systemd-gpt-auto-generator does it when /boot is empty) and read by systemd-boot beside the
 * ESP. mkosi 14 mounted it on /boot while building, so everything packages put into /boot (Debian's
 * vmlinuz-*, config-*, System.map-*, the initrd) lands there, and kernel-install and the unified
 * kernel images went there instead of into the ESP. kiln copies the image's /boot into a directory
 * of the workspace (the disk output makes the FAT file system from it and leaves the root's /boot
 * empty), and esp.ts adds the UKIs or boot entries.
 *
 * The copy walks the tree without following symlinks: FAT holds none, and mcopy would follow one out
 * of the image onto the host, so each is left out with a warning.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import type { BuildContext } from '../context.js';
import { warn } from '../log.js';
import { resolveInRoot } from '../tree/safe-path.js';
import { showPath } from '../tree/show-path.js';
import { walkTree } from '../tree/walk.js';

/** Copies the image's /boot into `dir` (empty, in the workspace): directories and regular files only. */
export async function stageXbootldrTree(context: BuildContext, dir: string): Promise<void> {
  const boot = await resolveInRoot(context.root, 'boot');
  if (!(await fs.stat(boot).catch(() => undefined))?.isDirectory()) return;
  const skipped: string[] = [];
  for await (const entry of walkTree(boot)) {
    if (entry.depth === 0) continue;
    const target = Buffer.concat([Buffer.from(`${dir}/`), entry.relative]);
    if (entry.stat.isDirectory()) await fs.mkdir(target);
    else if (entry.stat.isFile()) {
      await fs.copyFile(entry.path, target, constants.COPYFILE_FICLONE);
      await fs.chmod(target, 0o644);
    } else skipped.push(`/boot/${showPath(entry.relative)}`);
  }
  if (skipped.length > 0) {
    warn(`XbootldrSize=: ${skipped.join(', ')} ${skipped.length > 1 ? 'are not regular files' : 'is not a regular file'}, which FAT cannot hold: left out of the boot loader partition`);
  }
}
