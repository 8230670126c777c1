/**
 * The boot partitions of a disk image — the EFI system partition and XbootldrSize='s boot loader
 * partition — whose files src/boot/ puts together in directories of the workspace, and the unified
 * kernel image that SplitArtifacts= writes beside the image (OutputSplitKernel=).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { stageEspTree, stageXbootldrTree, type EspOptions } from '../boot/index.js';
import type { PartitionPlan, PartitionRole } from '../disk/layout.js';

export type BootRole = Extract<PartitionRole, 'esp' | 'xbootldr'>;

export function isBootRole(role: PartitionRole): role is BootRole {
  return role === 'esp' || role === 'xbootldr';
}

/** Where the kernels go: XBOOTLDR where there is one, else the ESP (mkosi 14's "boot" or "efi" prefix). */
function kernelsRole(plans: readonly PartitionPlan[]): BootRole {
  return plans.some((plan) => plan.role === 'xbootldr') ? 'xbootldr' : 'esp';
}

/**
 * Puts together the files of the boot partitions among `plans`, each in `<scratch>/<role>`. The image's
 * /boot is read here, so this must end before /boot is moved out of the root for XBOOTLDR.
 */
export async function stageBootTrees(context: BuildContext, plans: readonly PartitionPlan[], scratch: string, espOptions: EspOptions): Promise<Map<BootRole, string>> {
  const dirs = new Map<BootRole, string>();
  for (const role of ['xbootldr', 'esp'] as const) {
    if (!plans.some((plan) => plan.role === role)) continue;
    const dir = path.join(scratch, role);
    await fs.mkdir(dir);
    dirs.set(role, dir);
  }
  const xbootldr = dirs.get('xbootldr');
  if (xbootldr !== undefined) await stageXbootldrTree(context, xbootldr);
  const esp = dirs.get('esp');
  if (esp !== undefined) await stageEspTree(context, esp, { ...espOptions, ...(xbootldr !== undefined ? { bootDir: xbootldr } : {}) });
  return dirs;
}

/**
 * Verity= with an ESP: the unified kernel images and boot entries carry the root hash (roothash=,
 * usrhash= for UsrOnly=), so the boot partitions are made once the root's hash tree is, as mkosi 14
 * installed the unified kernel after make_verity(). Returns those plans (none without Verity=).
 */
export function bootPlansAfterRootHash(config: Pick<Config, 'Verity'>, plans: readonly PartitionPlan[]): PartitionPlan[] {
  if (config.Verity === false || !plans.some((plan) => plan.role === 'esp')) return [];
  return plans.filter((plan) => isBootRole(plan.role));
}

/**
 * OutputSplitKernel=: the one unified kernel image of the image, from the staged boot partitions
 * (after any signing). mkosi 14 refused an image with more than one kernel here, as kiln does.
 */
export async function splitKernelImage(plans: readonly PartitionPlan[], scratch: string): Promise<string | undefined> {
  const dir = path.join(scratch, kernelsRole(plans), 'EFI/Linux');
  const ukis = (await fs.readdir(dir).catch(() => [] as string[])).filter((name) => name.toLowerCase().endsWith('.efi'));
  if (ukis.length === 0) return undefined;
  if (ukis.length > 1) {
    throw new UserError(`SplitArtifacts=: the image has ${ukis.length} unified kernel images (${ukis.sort().join(', ')}), but OutputSplitKernel= takes one`, {
      hint: 'install one kernel, or set SplitArtifacts=no',
    });
  }
  return path.join(dir, ukis[0]!);
}
