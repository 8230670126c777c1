/**
 * Booting, as one part of kiln (Bootable=yes): the stages that make an image bootable — the kernel
 * command line in /etc/kernel/cmdline and the initrd made by the image's dracut — and the one call a
 * disk output makes for the contents of its EFI system partition (systemd-boot, and a unified kernel
 * image or type-1 boot entry per kernel). Which packages a bootable image gets is the distributions'
 * policy (distributions/*.ts); the partition itself is disk/layout.ts's.
 *
 * mkosi 14 mounted the ESP of a loop device at /efi and ran kernel-install and bootctl into it; kiln
 * builds the same files in the workspace and writes the FAT file system with mtools.
 */
import type { Config } from '../config/types.js';
import { hasEsp } from '../disk/layout.js';
import type { Stage } from '../stages/types.js';
import { mkdirInRoot } from '../tree/safe-path.js';
import { writeKernelCommandLine } from './command-line.js';
import { efiArchitecture } from './efi.js';
import { secureBootTools } from './secure-boot.js';

export { verityCommandLine } from './command-line.js';
export { stageEspTree, type EspOptions } from './esp.js';
export { stageXbootldrTree } from './xbootldr.js';
export { secureBootProblems, signBootLoaderStage } from './secure-boot.js';
export { cachedInitrdStage, initrdInputs, initrdStage } from './initrd.js';

/** Host programs a bootable build runs beyond the disk's own (mkfs.fat and mcopy come with the ESP partition). */
export function bootTools(config: Config): string[] {
  if (!config.Bootable) return [];
  const tools = ['systemd-nspawn', 'zstd'];
  if (hasEsp(config) && config.WithUnifiedKernelImages) tools.push('objcopy');
  tools.push(...secureBootTools(config));
  return tools;
}

/** Configuration problems of a bootable image, as one-line messages. */
export function bootProblems(config: Config): string[] {
  if (!config.Bootable || !hasEsp(config)) return [];
  if (efiArchitecture(config.Architecture) === undefined) {
    return [`Bootable=yes: UEFI has no name for Architecture=${config.Architecture}, so systemd-boot cannot boot it`];
  }
  return [];
}

/**
 * /etc/kernel/cmdline, and /efi as the mount point systemd-gpt-auto-generator mounts the ESP on in the
 * booted system (Debian's /boot holds the kernels, so the ESP cannot go there), as mkosi 14 left it.
 */
export const bootSetupStage: Stage = {
  title: 'Setting up the kernel command line',
  enabled: (context) => context.config.Bootable,
  async run(context) {
    await writeKernelCommandLine(context.root, context.config);
    if (hasEsp(context.config)) await mkdirInRoot(context.root, 'efi', 0o700);
  },
};
