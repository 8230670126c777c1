/**
 * The contents of the EFI system partition, put together in a directory of the workspace (the disk
 * output turns it into a FAT file system without mounting anything):
 *   EFI/BOOT/BOOT<ARCH>.EFI and EFI/systemd/systemd-boot<arch>.efi   systemd-boot, from the image
 *   loader/loader.conf                                                systemd-boot's settings
 * and for each kernel either a unified kernel image EFI/Linux/<id>-<version>.efi
 * (WithUnifiedKernelImages=yes, the default), or a Boot Loader Specification type-1 entry
 * loader/entries/<id>-<version>.conf with <id>/<version>/linux and initrd beside it.
 * With XbootldrSize= the unified kernel images, entries and kernels go to the boot loader partition's
 * directory instead (`bootDir`, the same layout), as mkosi 14 put them into /boot; the ESP keeps
 * systemd-boot, which reads both.
 * Everything is read from the image root through the safe-path helpers: a symlink in the image
 * cannot make kiln copy a host file into the ESP.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readOsRelease } from '../config/host.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { readFileInRoot, resolveInRoot } from '../tree/safe-path.js';
import { readKernelCommandLine } from './command-line.js';
import { efiArchitecture, removableMediaPath, stubInImage, systemdBootInImage, systemdBootPath } from './efi.js';
import { requireKernels, type Kernel } from './kernels.js';
import { pcrSignatureSections, signsExpectedPcr } from './pcr-signature.js';
import { signEspTree } from './secure-boot.js';
import { buildUki, osReleaseForUki } from './uki.js';

export interface EspOptions {
  /** Words appended to the image's kernel command line in the ESP (Verity='s roothash= or usrhash=). */
  readonly extraCommandLine?: readonly string[];
  /** Verity='s root hash, which names the unified kernel images when ImageVersion= does not (mkosi 14). */
  readonly rootHash?: string;
  /** XbootldrSize=: the directory of the boot loader partition's files, where the kernels go instead. */
  readonly bootDir?: string;
}

/** systemd-boot's settings; commented, as bootctl install writes them: the defaults boot the newest entry at once. */
const LOADER_CONF = '#timeout 3\n#console-mode keep\n';

async function copyFromImage(root: string, imagePath: string, target: string, what: string, hint: string): Promise<void> {
  const source = await resolveInRoot(root, imagePath);
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat?.isFile()) throw new UserError(`the image has no ${what} (/${imagePath})`, { hint });
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.copyFile(source, target, constants.COPYFILE_FICLONE);
  await fs.chmod(target, 0o644);
}

/** Boot counting (systemd's automatic boot assessment): /etc/kernel/tries adds "+N" to the name. */
async function bootCounter(root: string): Promise<string> {
  const tries = (await readFileInRoot(root, 'etc/kernel/tries'))?.trim();
  return tries ? `+${tries}` : '';
}

/**
 * The name part shared by a kernel's UKI or entry: ImageId= (else the os-release ID), ImageVersion=
 * or the kernel version, and for a unified kernel image of a Verity= image without ImageVersion= the
 * root hash too, as mkosi 14 names it (an A/B update then keeps both images' kernels apart).
 */
export function entryName(id: string, imageVersion: string | null, kernel: string, kernelCount: number, rootHash?: string): string {
  if (imageVersion === null) return rootHash === undefined ? `${id}-${kernel}` : `${id}-${kernel}-${rootHash}`;
  return kernelCount === 1 ? `${id}_${imageVersion}` : `${id}_${imageVersion}-${kernel}`;
}

/** A Boot Loader Specification type-1 entry. */
export function typeOneEntry(fields: { title: string; version: string; options: string; linux: string; initrd: string }): string {
  const lines = [`title ${fields.title}`, `version ${fields.version}`];
  if (fields.options) lines.push(`options ${fields.options}`);
  lines.push(`linux ${fields.linux}`, `initrd ${fields.initrd}`);
  return `${lines.join('\n')}\n`;
}

/** Fills `dir` (empty, in the workspace) with the ESP's files for `context.root`. */
export async function stageEspTree(context: BuildContext, dir: string, options: EspOptions = {}): Promise<void> {
  const { root, config } = context;
  const efi = efiArchitecture(config.Architecture);
  if (efi === undefined) throw new Error(`internal: no EFI architecture for ${config.Architecture} passed the checks`);
  const hint = 'add systemd-boot to Packages= (BasePackages=yes adds it for Debian)';
  await copyFromImage(root, systemdBootInImage(efi), path.join(dir, removableMediaPath(efi)), 'systemd-boot', hint);
  await copyFromImage(root, systemdBootInImage(efi), path.join(dir, systemdBootPath(efi)), 'systemd-boot', hint);
  await fs.mkdir(path.join(dir, 'loader'), { recursive: true });
  await fs.writeFile(path.join(dir, 'loader/loader.conf'), LOADER_CONF);

  const osReleaseText = (await readFileInRoot(root, 'etc/os-release')) ?? (await readFileInRoot(root, 'usr/lib/os-release')) ?? '';
  const osRelease = readOsRelease(osReleaseText);
  const id = config.ImageId ?? osRelease.ID ?? config.Distribution;
  const commandLine = [await readKernelCommandLine(root), ...(options.extraCommandLine ?? [])].filter(Boolean).join(' ');
  const kernels = await requireKernels(root, config);
  const tries = await bootCounter(root);
  const stub = path.join(context.workspace, `stub-${efi}.efi`);
  const boot = options.bootDir ?? dir;
  if (config.WithUnifiedKernelImages) {
    await copyFromImage(root, stubInImage(efi), stub, "systemd's EFI stub", hint);
    await fs.mkdir(path.join(boot, 'EFI/Linux'), { recursive: true });
  }

  for (const kernel of kernels) {
    const initrd = await initrdOf(root, kernel);
    if (config.WithUnifiedKernelImages) {
      const name = entryName(id, config.ImageVersion, kernel.version, kernels.length, options.rootHash);
      await buildUki(
        {
          stub,
          kernel: await resolveInRoot(root, kernel.image),
          initrd,
          osRelease: osReleaseForUki(osReleaseText, config.Release),
          commandLine,
          ...(signsExpectedPcr(config) ? { measure: (files, scratch) => pcrSignatureSections(config, files, scratch) } : {}),
        },
        path.join(boot, 'EFI/Linux', `${name}${tries}.efi`),
        context.workspace,
        config.ExtraSearchPaths,
      );
    } else {
      const name = entryName(id, config.ImageVersion, kernel.version, kernels.length);
      await copyFromImage(root, kernel.image, path.join(boot, id, kernel.version, 'linux'), `kernel ${kernel.version}`, 'a post-installation or finalize script must leave the kernel in place');
      await fs.mkdir(path.join(boot, id, kernel.version), { recursive: true });
      await fs.copyFile(initrd, path.join(boot, id, kernel.version, 'initrd'), constants.COPYFILE_FICLONE);
      await fs.chmod(path.join(boot, id, kernel.version, 'initrd'), 0o644);
      await fs.mkdir(path.join(boot, 'loader/entries'), { recursive: true });
      const entry = typeOneEntry({
        title: osRelease.PRETTY_NAME ?? osRelease.NAME ?? id,
        version: kernel.version,
        options: commandLine,
        linux: `/${id}/${kernel.version}/linux`,
        initrd: `/${id}/${kernel.version}/initrd`,
      });
      await fs.writeFile(path.join(boot, 'loader/entries', `${name}${tries}.conf`), entry);
    }
  }
  await fs.rm(stub, { force: true });
  await signEspTree(config, dir);
  // mkosi 14 signed only the ESP's directories, which left XBOOTLDR's unified kernel images unsigned
  // for Secure Boot firmware to refuse.
  if (boot !== dir) await signEspTree(config, boot);
}

/** The host path of a kernel's initrd, which the initrd stage made. */
async function initrdOf(root: string, kernel: Kernel): Promise<string> {
  const file = await resolveInRoot(root, kernel.initrd);
  if ((await fs.stat(file).catch(() => undefined))?.isFile()) return file;
  throw new UserError(`the initrd of kernel ${kernel.version} (/${kernel.initrd}) is gone from the image`, {
    hint: 'kiln makes it after the extra trees; a post-installation or finalize script must leave it in place',
  });
}
