/**
 * BaseImage= (mkosi 14): the image is built on top of an existing root — the base — and holds only
 * what changed, such as a systemd system extension (sysext) or the layer of a portable service. As
 * in mkosi 14, the base is the lower layer of an overlayfs mounted on the image root and the build
 * writes into an empty upper layer; once the stages ran, the overlay is unmounted, the upper layer
 * becomes the image root, and overlayfs' whiteouts (the base's files the build removed) are deleted
 * from it. Nothing is bootstrapped: Packages= are installed with the package manager of the base
 * (BasePackages= is off), and the output has every format's usual form.
 *
 * mkosi 14 also takes a file, which it attaches to a loop device — and then gives the device to
 * overlayfs as a directory, which cannot work; kiln takes the base's root as a directory (kiln's
 * Format=directory output, or an unpacked image) and says so for a file.
 *
 * Beyond mkosi 14: the upper layer gets no lower-layer references (redirect_dir, metacopy and index
 * off), and the overlay's own extended attributes (trusted.overlay.opaque) are removed with the
 * whiteouts, so the delta is self-contained.
 */
import { readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { step } from '../log.js';
import { run } from '../run.js';
import { besideRoot, unmountBelow } from '../workspace.js';

/** What BaseImage= makes impossible or pointless, as one-line messages. */
export function baseImageProblems(config: Config): string[] {
  const base = config.BaseImage;
  if (base === null) return [];
  const problems: string[] = [];
  const stat = statSync(base, { throwIfNoEntry: false });
  if (stat === undefined) problems.push(`BaseImage=${base} does not exist`);
  else if (!stat.isDirectory()) {
    problems.push(
      `BaseImage=${base} is not a directory: kiln takes the base's root as a directory (a file would need a loop device and a mount); unpack it first (kiln's Format=directory, unsquashfs -d DIR, or systemd-dissect --copy-from)`,
    );
  } else if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) problems.push('BaseImage= needs overlayfs, which this kernel lacks (modprobe overlay)');
  // overlayfs' mount options separate layers with ":" and options with ",".
  if (/[,:\\]/.test(base)) problems.push(`BaseImage=${base}: overlayfs cannot take a path with ",", ":" or "\\" in it`);
  if (config.Bootable) problems.push('BaseImage= with Bootable=yes: an image made of changes to a base has no kernel or boot loader of its own to boot');
  return problems;
}

/** Whiteouts are character devices 0:0; removes them and returns how many there were. */
async function removeWhiteouts(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isCharacterDevice() && (await fs.lstat(file)).rdev === 0) {
      await fs.unlink(file);
      count += 1;
    } else if (entry.isDirectory()) {
      count += await removeWhiteouts(file);
    }
  }
  return count;
}

/** Parses `getfattr -R -d` output: each file's trusted.overlay.* attribute names. */
export function overlayAttributes(output: string): { file: string; names: string[] }[] {
  const found: { file: string; names: string[] }[] = [];
  for (const line of output.split('\n')) {
    const file = /^# file: (.*)$/.exec(line)?.[1];
    if (file !== undefined) {
      // getfattr escapes unusual bytes as \ooo.
      found.push({ file: file.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))), names: [] });
      continue;
    }
    const name = /^(trusted\.overlay\.[^=]+)=/.exec(line)?.[1];
    if (name !== undefined) found.at(-1)?.names.push(name);
  }
  return found;
}

async function removeOverlayAttributes(root: string, searchPaths: readonly string[]): Promise<void> {
  const { stdout } = await run(['getfattr', '-R', '-P', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.', root], {
    read: true,
    okCodes: [1],
    what: 'Listing overlayfs attributes',
    searchPaths,
  });
  for (const { file, names } of overlayAttributes(stdout)) {
    for (const name of names) await run(['setfattr', '-h', '-x', name, file], { what: `Removing ${name} from ${file}`, searchPaths });
  }
}

function layerName(context: BuildContext): string {
  return context.phase === 'final' ? 'base' : 'build-base';
}

/** The overlay's upper layer while it is mounted: what the build added to the base. */
export function baseUpperLayer(context: BuildContext): string {
  return besideRoot(context.root, `${layerName(context)}-upper`);
}

/**
 * Runs `populate` with the overlay of BaseImage= mounted on the image root (or just runs it without
 * BaseImage=), then leaves the root holding only the upper layer.
 */
export async function withBaseImage(context: BuildContext, populate: () => Promise<void>): Promise<void> {
  const base = context.config.BaseImage;
  if (base === null) return populate();
  const upper = baseUpperLayer(context);
  const work = besideRoot(context.root, `${layerName(context)}-work`);
  await fs.mkdir(upper, { mode: 0o755 });
  await fs.mkdir(work, { mode: 0o700 });
  const root = context.root;
  context.cleanup.push('unmount the base image overlay', () => unmountBelow(root));
  await step(`Using ${base} as the base image`, () =>
    run(['mount', '-t', 'overlay', 'kiln-base', '-o', `lowerdir=${base},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off,index=off`, root], {
      what: 'Mounting the base image overlay',
      hint: 'BaseImage= needs overlayfs, and a base image on a file system overlayfs accepts as its lower layer',
    }),
  );
  await populate();
  await step('Keeping only the changes to the base image', async () => {
    await run(['umount', root], { what: 'Unmounting the base image overlay', uninterruptible: true });
    for (const entry of await fs.readdir(upper)) await fs.rename(path.join(upper, entry), path.join(root, entry));
    const stat = await fs.stat(upper);
    await fs.chmod(root, stat.mode & 0o7777);
    await fs.rm(upper, { recursive: true, force: true });
    await fs.rm(work, { recursive: true, force: true });
    await removeWhiteouts(root);
    await removeOverlayAttributes(root, context.config.ExtraSearchPaths);
  });
}
