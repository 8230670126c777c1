/**
 * SecureBoot=yes, as mkosi 14's secure_boot_sign(): sbsign signs every EFI program of the ESP's
 * EFI/BOOT, EFI/systemd and EFI/Linux (systemd-boot twice, the unified kernel images) in place, and
 * leaves a signed copy of systemd-boot in the image, usr/lib/systemd/boot/efi/*.efi.signed, which
 * `bootctl install`/`update` in the booted system prefer. A disk with type-1 entries has its kernels
 * outside EFI/Linux, unsigned, as in mkosi 14 (systemd-boot hands them to the firmware's loader).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { ToolError, UserError } from '../errors.js';
import { hasEsp } from '../disk/layout.js';
import { run } from '../run.js';
import type { Stage } from '../stages/types.js';
import { resolveInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { keyIsShared, keyPairProblems } from './secure-boot-key.js';
import { measureProblems, measureTools, signsExpectedPcr } from './pcr-signature.js';

/** The ESP directories whose EFI programs mkosi 14 signs. */
export const SIGNED_ESP_DIRECTORIES = ['EFI/BOOT', 'EFI/systemd', 'EFI/Linux'] as const;

const SYSTEMD_EFI_DIR = 'usr/lib/systemd/boot/efi';

/** Whether this build signs anything for Secure Boot: mkosi 14 signs bootable images only. */
export function signsForSecureBoot(config: Config): boolean {
  return config.SecureBoot && config.Bootable;
}

export function secureBootTools(config: Config): string[] {
  if (!signsForSecureBoot(config)) return [];
  return ['sbsign', ...measureTools(config)];
}

/** Problems of SecureBoot= and SignExpectedPCR= before the build, as one-line messages; warnings are shown. */
export async function secureBootProblems(config: Config, warn: (message: string) => void): Promise<string[]> {
  if (config.SecureBoot && !config.Bootable) warn('SecureBoot=yes has no effect without Bootable=yes: there is no boot loader or kernel to sign (as in mkosi 14)');
  if (config.SignExpectedPCR === true && !config.SecureBoot) warn('SignExpectedPCR=yes has no effect without SecureBoot=yes, whose key signs the PCR values (as in mkosi 14)');
  if (!signsForSecureBoot(config)) return [];
  const problems = await keyPairProblems('SecureBoot=yes', config.SecureBootKey, config.SecureBootCertificate);
  if (problems.length === 0 && (await keyIsShared(config.SecureBootKey!))) {
    warn(`${config.SecureBootKey} can be read by other users; make it private with chmod 600`);
  }
  if (signsExpectedPcr(config)) problems.push(...measureProblems(config));
  return problems;
}

/** Signs `file` with sbsign; `output` may be the file itself (replaced once the signed copy is whole). */
export async function signEfiProgram(config: Config, file: string, output: string = file): Promise<void> {
  const signed = `${output}.kiln-signing`;
  const argv = ['sbsign', '--key', config.SecureBootKey!, '--cert', config.SecureBootCertificate!, '--output', signed, file];
  try {
    await run(argv, { what: `Signing ${path.basename(file)} for Secure Boot`, searchPaths: config.ExtraSearchPaths });
    await fs.rename(signed, output);
  } catch (error) {
    await fs.rm(signed, { force: true });
    if (error instanceof ToolError) {
      throw new UserError(`SecureBoot=yes: sbsign could not sign ${path.basename(file)} (exit ${error.code ?? '?'})`, {
        hint: `${error.stderrTail?.trim().split('\n').at(-1) ?? 'see sbsign\'s output above'}; SecureBootKey= must be an unencrypted PEM key`,
      });
    }
    throw error;
  }
}

function isEfiProgram(name: string): boolean {
  return name.endsWith('.efi') || name.endsWith('.EFI');
}

/** Signs the EFI programs of a staged ESP directory in place (SecureBoot=yes). */
export async function signEspTree(config: Config, dir: string): Promise<void> {
  if (!signsForSecureBoot(config)) return;
  for (const sub of SIGNED_ESP_DIRECTORIES) {
    const names = await fs.readdir(path.join(dir, sub)).catch(() => [] as string[]);
    for (const name of names.filter(isEfiProgram).sort()) await signEfiProgram(config, path.join(dir, sub, name));
  }
}

/**
 * Signed copies of the image's systemd-boot beside it (mkosi 14 does this right after the
 * post-installation script). An existing .signed file is kept, as mkosi 14 keeps it. The signed copy
 * is made in the workspace and written into the image through the safe-path helpers.
 */
export const signBootLoaderStage: Stage = {
  title: 'Signing systemd-boot in the image for Secure Boot',
  enabled: (context) => signsForSecureBoot(context.config) && hasEsp(context.config),
  async run(context: BuildContext) {
    const dir = await resolveInRoot(context.root, SYSTEMD_EFI_DIR);
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter(isEfiProgram).sort()) {
      if (names.includes(`${name}.signed`)) continue;
      const source = await resolveInRoot(context.root, `${SYSTEMD_EFI_DIR}/${name}`);
      if (!(await fs.stat(source)).isFile()) continue;
      const signed = path.join(context.workspace, `${name}.signed`);
      try {
        await signEfiProgram(context.config, source, signed);
        await writeFileInRoot(context.root, `${SYSTEMD_EFI_DIR}/${name}.signed`, await fs.readFile(signed), 0o644);
      } finally {
        await fs.rm(signed, { force: true });
      }
    }
  },
};
