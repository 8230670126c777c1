import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandLineText, readKernelCommandLine, verityCommandLine } from '../../../src/boot/command-line.js';
import { dracutConfiguration } from '../../../src/boot/dracut.js';
import { efiArchitecture, removableMediaPath, stubInImage, systemdBootInImage } from '../../../src/boot/efi.js';
import { entryName, typeOneEntry } from '../../../src/boot/esp.js';
import { bootProblems, bootTools } from '../../../src/boot/index.js';
import { dracutFiles, initrdInputs } from '../../../src/boot/initrd.js';
import { compareVersions, findKernels, requireKernels } from '../../../src/boot/kernels.js';
import { initrdAddress, osReleaseForUki, ukiArgv } from '../../../src/boot/uki.js';
import { fatClusterSectors } from '../../../src/disk/filesystems.js';
import { configOf } from '../package-managers/config-of.js';

const MiB = 1024 ** 2;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempRoot(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-boot-'));
  dirs.push(dir);
  return dir;
}

describe('EFI names', () => {
  it('names systemd-boot, the stub and the removable-media path by UEFI architecture', () => {
    expect(efiArchitecture('x86_64')).toBe('x64');
    expect(efiArchitecture('aarch64')).toBe('aa64');
    expect(efiArchitecture('s390x')).toBeUndefined();
    expect(systemdBootInImage('x64')).toBe('usr/lib/systemd/boot/efi/systemd-bootx64.efi');
    expect(stubInImage('aa64')).toBe('usr/lib/systemd/boot/efi/linuxaa64.efi.stub');
    expect(removableMediaPath('x64')).toBe('EFI/BOOT/BOOTX64.EFI');
  });
});

describe('the kernel command line', () => {
  it('is mkosi 14\'s default plus rw, and console=ttyS0 loglevel=4 with QemuHeadless=yes', () => {
    expect(commandLineText(configOf('[Output]\nBootable=yes\n'))).toBe('rhgb selinux=0 audit=0 rw\n');
    expect(commandLineText(configOf('[Output]\nBootable=yes\n[Host]\nQemuHeadless=yes\n'))).toBe('rhgb selinux=0 audit=0 console=ttyS0 loglevel=4 rw\n');
    expect(commandLineText(configOf('[Output]\nBootable=yes\nFormat=gpt_squashfs\n'))).toBe('rhgb selinux=0 audit=0\n');
    expect(commandLineText(configOf('[Output]\nBootable=yes\nKernelCommandLine=!* quiet\n'))).toBe('quiet rw\n');
  });

  it('is read back from /etc/kernel/cmdline, else /usr/lib/kernel/cmdline, as one line', async () => {
    const root = tempRoot();
    expect(await readKernelCommandLine(root)).toBe('');
    mkdirSync(path.join(root, 'usr/lib/kernel'), { recursive: true });
    writeFileSync(path.join(root, 'usr/lib/kernel/cmdline'), 'vendor\n');
    expect(await readKernelCommandLine(root)).toBe('vendor');
    mkdirSync(path.join(root, 'etc/kernel'), { recursive: true });
    writeFileSync(path.join(root, 'etc/kernel/cmdline'), '  a   b\nc \n');
    expect(await readKernelCommandLine(root)).toBe('a b c');
  });
});

describe('dracut configuration', () => {
  it('writes mkosi 14\'s files: generic initrd, qemu drivers, systemd extras, efivarfs with an ESP', () => {
    const files = dracutConfiguration({ hostonly: false, format: 'gpt_ext4', esp: true, verity: false, systemConfDropins: ['/etc/systemd/system.conf.d/x.conf'] });
    expect([...files.keys()]).toEqual(['30-kiln-hostonly.conf', '30-kiln-qemu.conf', '30-kiln-systemd-extras.conf', '30-kiln-verity.conf', '30-kiln-efivarfs.conf']);
    expect(files.get('30-kiln-hostonly.conf')).toBe('hostonly=no\nhostonly_default_device=no\n');
    expect(files.get('30-kiln-qemu.conf')).toBe('add_dracutmodules+=" qemu "\n');
    expect(files.get('30-kiln-systemd-extras.conf')).toContain('install_optional_items+=" /usr/bin/systemd-repart "\n');
    expect(files.get('30-kiln-systemd-extras.conf')).toContain('install_optional_items+=" /etc/systemd/system.conf.d/x.conf "\n');
  });

  it('adds the root file system\'s module to a host-only initrd, and no efivarfs without an ESP', () => {
    const files = dracutConfiguration({ hostonly: true, format: 'gpt_btrfs', esp: false, verity: false, systemConfDropins: [] });
    expect(files.get('30-kiln-hostonly.conf')).toBe('hostonly=yes\nhostonly_default_device=no\n');
    expect(files.get('30-kiln-filesystem.conf')).toBe('filesystems+=" btrfs "\n');
    expect(files.has('30-kiln-efivarfs.conf')).toBe(false);
    expect(files.has('30-kiln-verity.conf')).toBe(false);
  });

  it('lets the initrd open a verity root: always where dracut can (generic), for Verity= only when host-only', () => {
    const generic = dracutConfiguration({ hostonly: false, format: 'gpt_squashfs', esp: true, verity: false, systemConfDropins: [] });
    expect(generic.get('30-kiln-verity.conf')).toBe('[[ -d $dracutbasedir/modules.d/01systemd-veritysetup ]] && type -P dmsetup >/dev/null && add_dracutmodules+=" systemd-veritysetup "\n');
    const hostonly = dracutConfiguration({ hostonly: true, format: 'gpt_squashfs', esp: true, verity: true, systemConfDropins: [] });
    expect(hostonly.get('30-kiln-verity.conf')).toBe('add_dracutmodules+=" systemd-veritysetup "\n');
    const cached = '[Output]\nBootable=yes\nIncremental=yes\nCacheInitrd=yes\nFormat=gpt_squashfs\n';
    expect(initrdInputs(configOf(`${cached}Verity=yes\n`))).toEqual(initrdInputs(configOf(cached)));
    expect(initrdInputs(configOf(`${cached}Verity=yes\nHostonlyInitrd=yes\n`))?.verity).toBe(true);
  });

  it('is part of the incremental cache key only when the initrd is cached', () => {
    expect(initrdInputs(configOf('[Output]\nBootable=yes\nIncremental=yes\n'))).toBeNull();
    expect(initrdInputs(configOf('[Output]\nBootable=yes\nCacheInitrd=yes\n'))).toBeNull();
    expect(initrdInputs(configOf('[Output]\nBootable=yes\nIncremental=yes\nCacheInitrd=yes\nHostonlyInitrd=yes\nFormat=gpt_xfs\n'))).toEqual({ hostonly: true, filesystem: 'xfs', esp: true, verity: false, dropins: {} });
  });

  it('adds the distribution\'s drop-ins after kiln\'s: Mageia\'s override of its 50-mageia.conf, following HostonlyInitrd=', () => {
    const mageia = (lines: string): Map<string, string> => dracutFiles(configOf(`[Distribution]\nDistribution=mageia\nRelease=9\n[Output]\nBootable=yes\nFormat=gpt_ext4\n${lines}`), []);
    const files = mageia('');
    expect([...files.keys()].sort().at(-1)).toBe('51-kiln-override-mageia.conf');
    expect(files.get('51-kiln-override-mageia.conf')).toBe('hostonly=no\nomit_dracutmodules=""\n');
    expect(mageia('HostonlyInitrd=yes\n').get('51-kiln-override-mageia.conf')).toBe('hostonly=yes\nomit_dracutmodules=""\n');
    expect([...dracutFiles(configOf('[Output]\nBootable=yes\nFormat=gpt_ext4\n'), []).keys()].filter((name) => !name.startsWith('30-kiln-'))).toEqual([]);
    const cached = initrdInputs(configOf('[Distribution]\nDistribution=mageia\nRelease=9\n[Output]\nBootable=yes\nFormat=gpt_ext4\nIncremental=yes\nCacheInitrd=yes\n'));
    expect(cached?.dropins).toEqual({ '51-kiln-override-mageia.conf': 'hostonly=no\nomit_dracutmodules=""\n' });
  });
});

describe('kernels in the image', () => {
  it('finds Debian\'s /boot/vmlinuz-V and Fedora\'s /usr/lib/modules/V/vmlinuz, oldest first, not modules without a kernel', async () => {
    const root = tempRoot();
    for (const version of ['6.1.0-10-amd64', '6.1.0-9-amd64', 'leftover']) mkdirSync(path.join(root, 'usr/lib/modules', version), { recursive: true });
    mkdirSync(path.join(root, 'boot'));
    writeFileSync(path.join(root, 'boot/vmlinuz-6.1.0-10-amd64'), 'k');
    writeFileSync(path.join(root, 'usr/lib/modules/6.1.0-9-amd64/vmlinuz'), 'k');
    expect(await findKernels(root, { Distribution: 'debian' })).toEqual([
      { version: '6.1.0-9-amd64', image: 'usr/lib/modules/6.1.0-9-amd64/vmlinuz', initrd: 'boot/initrd.img-6.1.0-9-amd64' },
      { version: '6.1.0-10-amd64', image: 'boot/vmlinuz-6.1.0-10-amd64', initrd: 'boot/initrd.img-6.1.0-10-amd64' },
    ]);
    expect((await findKernels(root, { Distribution: 'fedora' }))[0]?.initrd).toBe('boot/initramfs-6.1.0-9-amd64.img');
    expect(compareVersions('6.1.0-9', '6.1.0-10')).toBeLessThan(0);
  });

  it('follows the image\'s /lib symlink inside the root, and says what to do when there is no kernel', async () => {
    const root = tempRoot();
    mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    symlinkSync('/usr/lib', path.join(root, 'lib'));
    await expect(requireKernels(root, { Distribution: 'debian', BasePackages: true })).rejects.toThrow(
      'Bootable=yes, but the image has no kernel (no /usr/lib/modules/VERSION with a vmlinuz)',
    );
  });
});

describe('unified kernel images', () => {
  it('adds .osrel, .cmdline, .linux and .initrd at mkosi 14\'s addresses to the stub', () => {
    const argv = ukiArgv({ stub: '/s.stub', kernel: '/k', initrd: '/i', osRelease: '', commandLine: '' }, { osRelease: '/o', commandLine: '/c' }, 8 * MiB, '/out.efi');
    expect(argv).toEqual([
      'objcopy',
      '--add-section', '.osrel=/o', '--change-section-vma', '.osrel=0x20000',
      '--add-section', '.cmdline=/c', '--change-section-vma', '.cmdline=0x30000',
      '--add-section', '.linux=/k', '--change-section-vma', '.linux=0x2000000',
      '--add-section', '.initrd=/i', '--change-section-vma', '.initrd=0x3000000',
      '/s.stub', '/out.efi',
    ]);
  });

  it('moves the initrd above a kernel larger than 16 MiB', () => {
    expect(initrdAddress(16 * MiB)).toBe(0x3000000);
    expect(initrdAddress(20 * MiB + 1)).toBe(0x2000000 + 20 * MiB + 0x1000);
  });

  it('gives an os-release without VERSION_ID or BUILD_ID a BUILD_ID, as systemd-boot needs one', () => {
    expect(osReleaseForUki('ID=debian\nVERSION_ID="12"\n', 'bookworm')).toBe('ID=debian\nVERSION_ID="12"\n');
    expect(osReleaseForUki('ID=debian\nPRETTY_NAME="Debian trixie/sid"', 'trixie')).toBe('ID=debian\nPRETTY_NAME="Debian trixie/sid"\nBUILD_ID=kiln-trixie\n');
  });

  it('names the files after ImageId= or the os-release ID, and ImageVersion= or the kernel', () => {
    expect(entryName('debian', null, '6.1.0-9-amd64', 1)).toBe('debian-6.1.0-9-amd64');
    expect(entryName('web', '1.2', '6.1.0-9-amd64', 1)).toBe('web_1.2');
    expect(entryName('web', '1.2', '6.1.0-9-amd64', 2)).toBe('web_1.2-6.1.0-9-amd64');
  });

  it('adds the verity root hash to the name of a unified kernel image without ImageVersion=, as mkosi 14', () => {
    const hash = 'ab'.repeat(32);
    expect(entryName('debian', null, '6.1.0-9-amd64', 1, hash)).toBe(`debian-6.1.0-9-amd64-${hash}`);
    expect(entryName('web', '1.2', '6.1.0-9-amd64', 1, hash)).toBe('web_1.2');
  });

  it('puts the verity root hash on the command line: roothash=, or usrhash= for UsrOnly=', () => {
    const hash = 'cd'.repeat(32);
    expect(verityCommandLine(configOf('[Output]\nBootable=yes\nFormat=gpt_squashfs\nVerity=yes\n'), hash)).toEqual([`roothash=${hash}`]);
    expect(verityCommandLine(configOf('[Output]\nBootable=yes\nFormat=gpt_squashfs\nVerity=yes\n[Partitions]\nUsrOnly=yes\n'), hash)).toEqual([`usrhash=${hash}`]);
    expect(verityCommandLine(configOf('[Output]\nBootable=yes\n'), undefined)).toEqual([]);
  });

  it('writes a type-1 entry with the command line as options', () => {
    expect(typeOneEntry({ title: 'Debian GNU/Linux 12 (bookworm)', version: '6.1', options: 'rw', linux: '/debian/6.1/linux', initrd: '/debian/6.1/initrd' })).toBe(
      'title Debian GNU/Linux 12 (bookworm)\nversion 6.1\noptions rw\nlinux /debian/6.1/linux\ninitrd /debian/6.1/initrd\n',
    );
  });
});

describe('bootable configurations', () => {
  it('need dracut\'s container, zstd and, for a UKI, objcopy', () => {
    expect(bootTools(configOf('[Output]\nFormat=gpt_ext4\n'))).toEqual([]);
    expect(bootTools(configOf('[Output]\nFormat=gpt_ext4\nBootable=yes\n'))).toEqual(['systemd-nspawn', 'zstd', 'objcopy']);
    expect(bootTools(configOf('[Output]\nFormat=gpt_ext4\nBootable=yes\nWithUnifiedKernelImages=no\n'))).toEqual(['systemd-nspawn', 'zstd']);
    expect(bootTools(configOf('[Output]\nFormat=tar\nBootable=yes\n'))).toEqual(['systemd-nspawn', 'zstd']);
  });

  it('refuses a UEFI disk for an architecture UEFI has no name for', () => {
    expect(bootProblems(configOf('[Distribution]\nArchitecture=s390x\n[Output]\nBootable=yes\n'))).toEqual([
      'Bootable=yes: UEFI has no name for Architecture=s390x, so systemd-boot cannot boot it',
    ]);
    expect(bootProblems(configOf('[Distribution]\nArchitecture=s390x\n[Output]\nBootable=yes\nFormat=tar\n'))).toEqual([]);
  });

  it('sizes FAT32 clusters as mkfs.fat would for the partition alone', () => {
    expect(fatClusterSectors(256 * MiB)).toBe(1);
    expect(fatClusterSectors(512 * MiB)).toBe(8);
    expect(fatClusterSectors(64 * 1024 * MiB)).toBe(64);
  });
});
