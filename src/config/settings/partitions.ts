/** [Partitions] settings: sizes of the partitions of GPT disk images. */
import { bool, pathSetting, size } from '../setting.js';

const section = 'Partitions';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function partitionSize(flag: string, mkosi: string, doc: string, status: 'supported' | 'unsupported' = 'supported') {
  return size<number | null>({ section, flags: [flag], mkosi, default: null, status, doc });
}

export const partitionSettings = {
  BaseImage: pathSetting({
    section,
    flags: ['--base-image'],
    mkosi: 'base_image',
    default: null,
    doc: 'Root directory of a base image: the output holds only the changes to it (a system extension), made on an overlayfs',
  }),
  RootSize: size<number>({
    section,
    flags: ['--root-size'],
    mkosi: 'root_size',
    default: 3 * GiB,
    doc: 'Size of the root partition (default: 3G, sparse)',
  }),
  ESPSize: size<number | null>({
    section,
    flags: ['--esp-size'],
    mkosi: 'esp_size',
    default: (context) => (context.get('Bootable') ? 256 * MiB : null),
    doc: 'Size of the EFI system partition of bootable disks (default: 256M)',
  }),
  XbootldrSize: partitionSize(
    '--xbootldr-size',
    'xbootldr_size',
    'Size of an extended boot loader partition (XBOOTLDR, FAT): the image\'s /boot, with the kernels and unified kernel images or boot entries',
  ),
  SwapSize: partitionSize('--swap-size', 'swap_size', 'Size of a swap partition'),
  HomeSize: partitionSize('--home-size', 'home_size', 'Size of a /home partition'),
  SrvSize: partitionSize('--srv-size', 'srv_size', 'Size of a /srv partition'),
  VarSize: partitionSize('--var-size', 'var_size', 'Size of a /var partition (Variable Data Partition type; systemd mounts it only when its UUID matches the machine)'),
  TmpSize: partitionSize('--tmp-size', 'tmp_size', 'Size of a /var/tmp partition'),
  BiosSize: partitionSize('--bios-size', 'bios_size', 'Size of an empty BIOS boot partition (as in mkosi 14, no grub is installed into it)'),
  UsrOnly: bool({ section, flags: ['--usr-only'], mkosi: 'usr_only', default: false, doc: 'Only /usr: disks get a /usr partition (and /usr verity) instead of a root, tar and cpio archive /usr' }),
};
