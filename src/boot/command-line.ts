/**
 * The kernel command line of a bootable image lives in the image as /etc/kernel/cmdline — where
 * mkosi 14 writes KernelCommandLine= and where kernel-install reads it when the booted system installs
 * a kernel update. The unified kernel image and boot entries take it from there at the end of the
 * build, so a post-installation or finalize script may still change it (as with mkosi 14). No root=:
 * systemd-gpt-auto-generator finds the root partition by its Discoverable Partitions type.
 */
import type { Config } from '../config/types.js';
import { readFileInRoot, writeFileInRoot } from '../tree/safe-path.js';

export const CMDLINE_FILE = 'etc/kernel/cmdline';
/** Where distributions may ship a default, read when /etc/kernel/cmdline does not exist (mkosi 14). */
const VENDOR_CMDLINE_FILE = 'usr/lib/kernel/cmdline';

export function commandLineText(config: Pick<Config, 'KernelCommandLine'>): string {
  return `${config.KernelCommandLine.join(' ')}\n`;
}

export async function writeKernelCommandLine(root: string, config: Pick<Config, 'KernelCommandLine'>): Promise<void> {
  await writeFileInRoot(root, CMDLINE_FILE, commandLineText(config));
}

/** The command line the image will boot with: one line, words separated by single spaces. */
export async function readKernelCommandLine(root: string): Promise<string> {
  const text = (await readFileInRoot(root, CMDLINE_FILE)) ?? (await readFileInRoot(root, VENDOR_CMDLINE_FILE)) ?? '';
  return text.split(/\s+/).filter(Boolean).join(' ');
}

/**
 * What Verity= adds to the command line of the unified kernel images and boot entries, as mkosi 14
 * does: roothash= (usrhash= for UsrOnly=), from which systemd-veritysetup-generator finds the data and
 * hash partitions by their UUIDs and the root is mounted from the verified device.
 */
export function verityCommandLine(config: Pick<Config, 'UsrOnly'>, rootHash: string | undefined): string[] {
  return rootHash === undefined ? [] : [`${config.UsrOnly ? 'usrhash' : 'roothash'}=${rootHash}`];
}
