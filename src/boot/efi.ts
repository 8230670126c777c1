/**
 * UEFI's names for CPU architectures and where systemd ships its EFI programs: systemd-boot and the
 * stub that a unified kernel image is built on. Firmware looks for a removable disk's boot loader at
 * EFI/BOOT/BOOT<ARCH>.EFI, so that is where systemd-boot goes (besides its own EFI/systemd/).
 */

/** Architecture= (as `uname -m` spells it) to UEFI's name, as systemd-boot's file names use it. */
const EFI_ARCHITECTURES: Readonly<Record<string, string>> = {
  x86_64: 'x64',
  i386: 'ia32',
  i486: 'ia32',
  i586: 'ia32',
  i686: 'ia32',
  aarch64: 'aa64',
  arm64: 'aa64',
  armv7l: 'arm',
  armv7hl: 'arm',
  armv8l: 'arm',
  riscv64: 'riscv64',
};

export function efiArchitecture(architecture: string): string | undefined {
  return Object.hasOwn(EFI_ARCHITECTURES, architecture) ? EFI_ARCHITECTURES[architecture] : undefined;
}

/** Where systemd keeps its EFI programs in an image (merged /usr; /lib links here on Debian). */
const SYSTEMD_EFI_DIR = 'usr/lib/systemd/boot/efi';

/** systemd-boot in the image. */
export function systemdBootInImage(efi: string): string {
  return `${SYSTEMD_EFI_DIR}/systemd-boot${efi}.efi`;
}

/** systemd's EFI stub in the image: a unified kernel image is this file with sections added. */
export function stubInImage(efi: string): string {
  return `${SYSTEMD_EFI_DIR}/linux${efi}.efi.stub`;
}

/** The ESP path firmware boots from a disk without boot entries of its own (UEFI 2.x §3.5.1.1). */
export function removableMediaPath(efi: string): string {
  return `EFI/BOOT/BOOT${efi.toUpperCase()}.EFI`;
}

/** systemd-boot's own place in the ESP, where bootctl puts it. */
export function systemdBootPath(efi: string): string {
  return `EFI/systemd/systemd-boot${efi}.efi`;
}
