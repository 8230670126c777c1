/**
 * dracut's configuration for a bootable image, as mkosi 14's configure_dracut() writes it: an initrd
 * for any machine (not host-only) unless HostonlyInitrd=yes, qemu's drivers, efivarfs where there is
 * an ESP (systemd-gpt-auto-generator reads the boot loader's EFI variables to find the root), and
 * the systemd programs an image may need before the root is mounted.
 */
import type { Config } from '../config/types.js';

/** Files systemd's initrd units use when present (mkosi 14's DRACUT_SYSTEMD_EXTRAS). */
const SYSTEMD_EXTRAS = [
  '/usr/bin/systemd-ask-password',
  '/usr/bin/systemd-repart',
  '/usr/bin/systemd-tty-ask-password-agent',
  '/usr/lib/systemd/system-generators/systemd-veritysetup-generator',
  '/usr/lib/systemd/system/initrd-root-fs.target.wants/systemd-repart.service',
  '/usr/lib/systemd/system/initrd-usr-fs.target',
  '/usr/lib/systemd/system/initrd.target.wants/systemd-pcrphase-initrd.service',
  '/usr/lib/systemd/system/sysinit.target.wants/veritysetup.target',
  '/usr/lib/systemd/system/systemd-pcrphase-initrd.service',
  '/usr/lib/systemd/system/systemd-repart.service',
  '/usr/lib/systemd/system/systemd-volatile-root.service',
  '/usr/lib/systemd/system/veritysetup.target',
  '/usr/lib/systemd/systemd-pcrphase',
  '/usr/lib/systemd/systemd-veritysetup',
  '/usr/lib/systemd/systemd-volatile-root',
  '/usr/lib64/libtss2-esys.so.0',
  '/usr/lib64/libtss2-mu.so.0',
  '/usr/lib64/libtss2-rc.so.0',
  '/usr/lib64/libtss2-tcti-device.so.0',
];

export const DRACUT_CONF_DIR = 'etc/dracut.conf.d';

/** The kernel module of the root file system, which a host-only initrd must still contain. */
export function rootFileSystemModule(format: Config['Format']): string {
  switch (format) {
    case 'gpt_btrfs':
    case 'subvolume':
      return 'btrfs';
    case 'gpt_xfs':
      return 'xfs';
    case 'gpt_squashfs':
    case 'plain_squashfs':
      return 'squashfs';
    default:
      return 'ext4';
  }
}

export interface DracutOptions {
  readonly hostonly: boolean;
  readonly format: Config['Format'];
  readonly esp: boolean;
  /** Verity=: the initrd must open the root (or /usr) with dm-verity. */
  readonly verity: boolean;
  /** Drop-ins of /etc/systemd/system.conf.d in the image, as image paths ("/etc/systemd/system.conf.d/x.conf"). */
  readonly systemConfDropins: readonly string[];
}

/** File name (in /etc/dracut.conf.d) to content. */
export function dracutConfiguration(options: DracutOptions): Map<string, string> {
  const files = new Map<string, string>();
  files.set('30-kiln-hostonly.conf', `hostonly=${options.hostonly ? 'yes' : 'no'}\nhostonly_default_device=no\n`);
  files.set('30-kiln-qemu.conf', 'add_dracutmodules+=" qemu "\n');
  const extras = [...SYSTEMD_EXTRAS, '/etc/systemd/system.conf', ...options.systemConfDropins];
  files.set('30-kiln-systemd-extras.conf', extras.map((item) => `install_optional_items+=" ${item} "\n`).join(''));
  if (options.hostonly) files.set('30-kiln-filesystem.conf', `filesystems+=" ${rootFileSystemModule(options.format)} "\n`);
  // dracut adds its systemd-veritysetup module (with dm, dmsetup and dm-verity.ko) only on request,
  // and mkosi 14 never asked: its Debian verity images could not open their root. A generic initrd
  // gets it wherever the image's dracut and dmsetup allow, so that the initrd the incremental cache
  // keeps serves images with and without Verity=; a host-only one gets it for Verity= only, and then
  // dracut fails the build where it cannot.
  if (options.verity && options.hostonly) files.set('30-kiln-verity.conf', 'add_dracutmodules+=" systemd-veritysetup "\n');
  if (!options.hostonly) {
    files.set('30-kiln-verity.conf', '[[ -d $dracutbasedir/modules.d/01systemd-veritysetup ]] && type -P dmsetup >/dev/null && add_dracutmodules+=" systemd-veritysetup "\n');
  }
  if (options.esp) {
    files.set('30-kiln-efivarfs.conf', '[[ $(modinfo -k "$kernel" -F filename efivarfs 2>/dev/null) == /* ]] && add_drivers+=" efivarfs "\n');
  }
  return files;
}
