/**
 * The UEFI firmware for qemu, found where mkosi 14's find_qemu_firmware() and find_ovmf_vars() look:
 * Secure Boot capable builds first (they need SMM, which qemu then gets), architecture-specific
 * paths before generic ones. On Debian that is /usr/share/OVMF/OVMF_CODE.secboot.fd with
 * OVMF_VARS.fd, from the ovmf package. The variable store is copied for every run, so one boot's
 * boot entries and variables never leak into the next, or into the package's pristine file.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';

const SECURE_BOOT_BY_ARCHITECTURE: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['/usr/share/ovmf/x64/OVMF_CODE.secboot.fd'],
  i386: ['/usr/share/edk2/ovmf-ia32/OVMF_CODE.secboot.fd', '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd'],
};

const PLAIN_BY_ARCHITECTURE: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['/usr/share/ovmf/ovmf_code_x64.bin', '/usr/share/ovmf/x64/OVMF_CODE.fd', '/usr/share/qemu/ovmf-x86_64.bin'],
  i386: ['/usr/share/ovmf/ovmf_code_ia32.bin', '/usr/share/edk2/ovmf-ia32/OVMF_CODE.fd'],
  aarch64: ['/usr/share/AAVMF/AAVMF_CODE.fd'],
  armhfp: ['/usr/share/AAVMF/AAVMF32_CODE.fd'],
};

const SECURE_BOOT_GENERIC = [
  '/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd',
  '/usr/share/edk2-ovmf/OVMF_CODE.secboot.fd',
  '/usr/share/qemu/OVMF_CODE.secboot.fd',
  '/usr/share/ovmf/OVMF.secboot.fd',
  '/usr/share/OVMF/OVMF_CODE.secboot.fd',
];

const PLAIN_GENERIC = [
  '/usr/share/edk2/ovmf/OVMF_CODE.fd',
  '/usr/share/edk2-ovmf/OVMF_CODE.fd',
  '/usr/share/qemu/OVMF_CODE.fd',
  '/usr/share/ovmf/OVMF.fd',
  '/usr/share/OVMF/OVMF_CODE.fd',
];

const VARS_BY_ARCHITECTURE: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['/usr/share/ovmf/x64/OVMF_VARS.fd'],
  i386: ['/usr/share/edk2/ovmf-ia32/OVMF_VARS.fd', '/usr/share/OVMF/OVMF32_VARS_4M.fd'],
  armhfp: ['/usr/share/AAVMF/AAVMF32_VARS.fd'],
  aarch64: ['/usr/share/AAVMF/AAVMF_VARS.fd'],
};

const VARS_GENERIC = [
  '/usr/share/edk2/ovmf/OVMF_VARS.fd',
  '/usr/share/edk2-ovmf/OVMF_VARS.fd',
  '/usr/share/qemu/OVMF_VARS.fd',
  '/usr/share/ovmf/OVMF_VARS.fd',
  '/usr/share/OVMF/OVMF_VARS.fd',
];

export interface FoundFirmware {
  readonly code: string;
  readonly secureBoot: boolean;
  /** The pristine variable store, to be copied for each run. */
  readonly vars: string | undefined;
}

function candidates(architecture: string): [readonly string[], boolean][] {
  return [
    [SECURE_BOOT_BY_ARCHITECTURE[architecture] ?? [], true],
    [PLAIN_BY_ARCHITECTURE[architecture] ?? [], false],
    [SECURE_BOOT_GENERIC, true],
    [PLAIN_GENERIC, false],
  ];
}

/** Every file that would do as the firmware, in the order they are tried (for kiln doctor). */
export function firmwareFiles(architecture: string): string[] {
  return candidates(architecture).flatMap(([files]) => files);
}

/** The firmware for `architecture`, or undefined when none is installed. */
export function findFirmware(architecture: string, exists: (file: string) => boolean = existsSync): FoundFirmware | undefined {
  for (const [files, secureBoot] of candidates(architecture)) {
    const code = files.find(exists);
    if (code === undefined) continue;
    const vars = [...(VARS_BY_ARCHITECTURE[architecture] ?? []), ...VARS_GENERIC].find(exists);
    return { code, secureBoot, vars };
  }
  return undefined;
}

export function requireFirmware(architecture: string): FoundFirmware {
  const firmware = findFirmware(architecture);
  if (firmware) return firmware;
  throw new UserError(`no UEFI firmware for ${architecture} (OVMF) found where mkosi 14 looks for it (/usr/share/OVMF, /usr/share/ovmf, /usr/share/edk2…)`, {
    hint: architecture === 'aarch64' ? 'install it with: apt-get install qemu-efi-aarch64' : 'install it with: apt-get install ovmf',
  });
}
