/**
 * The kernels installed in an image: one per directory of /usr/lib/modules that has a kernel image
 * beside it — /usr/lib/modules/<version>/vmlinuz (Arch, Fedora) or /boot/vmlinuz-<version>
 * (Debian, Ubuntu), as mkosi 14's gen_kernel_images() finds them — and the initrd kiln makes for it.
 */
import fs from 'node:fs/promises';
import type { Config } from '../config/types.js';
import { getDistribution } from '../distributions/index.js';
import { UserError } from '../errors.js';
import { existsInRoot, resolveInRoot } from '../tree/safe-path.js';

export interface Kernel {
  /** The version, as the directory under /usr/lib/modules names it. */
  readonly version: string;
  /** The kernel image, as a path in the image. */
  readonly image: string;
  /** Where kiln puts its initrd, as a path in the image. */
  readonly initrd: string;
}

/** Sorts "6.1.0-9-amd64" before "6.1.0-10-amd64". */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The image's kernels, oldest first. */
export async function findKernels(root: string, config: Pick<Config, 'Distribution'>): Promise<Kernel[]> {
  const modules = await resolveInRoot(root, 'usr/lib/modules');
  const names = await fs.readdir(modules, { withFileTypes: true }).catch(() => []);
  const distribution = getDistribution(config.Distribution);
  const kernels: Kernel[] = [];
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
    const version = entry.name;
    const candidates = [`usr/lib/modules/${version}/vmlinuz`, `boot/vmlinuz-${version}`];
    let image: string | undefined;
    for (const candidate of candidates) {
      if (await existsInRoot(root, candidate)) {
        image = candidate;
        break;
      }
    }
    if (image !== undefined) kernels.push({ version, image, initrd: distribution.initrdPath(version) });
  }
  return kernels.sort((a, b) => compareVersions(a.version, b.version));
}

/** Like findKernels(), but a bootable image without a kernel is the user's problem to fix. */
export async function requireKernels(root: string, config: Pick<Config, 'Distribution' | 'BasePackages'>): Promise<Kernel[]> {
  const kernels = await findKernels(root, config);
  if (kernels.length > 0) return kernels;
  throw new UserError('Bootable=yes, but the image has no kernel (no /usr/lib/modules/VERSION with a vmlinuz)', {
    hint: config.BasePackages === false ? 'BasePackages=no leaves the kernel out: add one to Packages=' : 'add a kernel package to Packages=',
  });
}
