/** The output formats kiln builds. This registry is the only list of them. */
import type { FormatName } from '../config/types.js';
import { cpioOutput } from './cpio.js';
import { directoryOutput } from './directory.js';
import { gptBtrfsOutput, gptExt4Output, gptSquashfsOutput, gptXfsOutput, plainSquashfsOutput } from './disk.js';
import { incusOutput } from './incus.js';
import { lxcOutput } from './lxc.js';
import { subvolumeOutput } from './subvolume.js';
import { tarOutput } from './tar.js';
import type { OutputFormat } from './types.js';

export const OUTPUTS: Partial<Record<FormatName, OutputFormat>> = {
  directory: directoryOutput,
  tar: tarOutput,
  cpio: cpioOutput,
  subvolume: subvolumeOutput,
  gpt_ext4: gptExt4Output,
  gpt_xfs: gptXfsOutput,
  gpt_btrfs: gptBtrfsOutput,
  gpt_squashfs: gptSquashfsOutput,
  plain_squashfs: plainSquashfsOutput,
  lxc: lxcOutput,
  incus: incusOutput,
};

export const SUPPORTED_FORMAT_NAMES = Object.keys(OUTPUTS) as FormatName[];

export function isSupportedFormat(name: FormatName): boolean {
  return Object.hasOwn(OUTPUTS, name);
}
