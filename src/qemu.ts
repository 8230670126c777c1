/**
 * The qemu command line, built in one place as mkosi 14's run_qemu_setup() builds it: a q35 machine
 * (virt on ARM) with the UEFI firmware in flash, a virtio random number generator, the disk image on
 * virtio (Debian) or virtio-scsi, a serial console in the terminal when headless, a network card
 * when asked for, direct kernel boot for QemuBoot=linux, and QemuArgs= and the arguments after `--`
 * last, so they can add to or override all of it.
 */

export interface QemuFirmware {
  /** The firmware code, read-only. */
  readonly code: string;
  /** This run's own copy of the variable store, if the firmware has one. */
  readonly vars?: string;
  /** The code was built with Secure Boot, which needs SMM and a secure flash. */
  readonly secureBoot: boolean;
}

export type QemuNetwork =
  /** qemu's user-mode networking; `forwards` are host ports on 127.0.0.1 to guest ports. */
  | { readonly type: 'user'; readonly forwards: readonly { readonly hostPort: number; readonly guestPort: number }[] }
  /** A tap link the host's systemd-networkd serves (its 80-vm-vt.network matches vt-*). */
  | { readonly type: 'tap'; readonly ifname: string };

export type QemuBoot =
  | { readonly type: 'uefi'; readonly firmware: QemuFirmware }
  | { readonly type: 'linux'; readonly kernel: string; readonly initrd: string; readonly append: string };

export interface QemuMachine {
  readonly binary: string;
  readonly architecture: string;
  readonly accelerator: 'kvm' | 'tcg';
  readonly smp: string;
  readonly memory: string;
  readonly headless: boolean;
  readonly boot: QemuBoot;
  readonly network?: QemuNetwork;
  /** The image; none for the firmware probe. */
  readonly disk?: { readonly file: string; readonly format: 'raw' | 'qcow2'; readonly bus: 'virtio' | 'scsi' };
  /** QemuArgs= and then the arguments after `--`. */
  readonly extraArgs?: readonly string[];
}

/** mkosi 14's find_qemu_binary(): the first of these on $PATH. */
export function qemuBinaries(architecture: string): string[] {
  return ['qemu', 'qemu-kvm', `qemu-system-${architecture}`];
}

/** qemu splits option values at commas; a comma in a file name is written twice. */
export function qemuPath(file: string): string {
  return file.replaceAll(',', ',,');
}

function machineType(machine: QemuMachine): string {
  if (machine.architecture === 'aarch64') return `type=virt,accel=${machine.accelerator}`;
  const smm = machine.boot.type === 'uefi' && machine.boot.firmware.secureBoot ? 'on' : 'off';
  return `type=q35,accel=${machine.accelerator},smm=${smm}`;
}

export function qemuArgv(machine: QemuMachine): string[] {
  const argv = [
    machine.binary,
    '-machine', machineType(machine),
    '-smp', machine.smp,
    '-m', machine.memory,
    '-object', 'rng-random,filename=/dev/urandom,id=rng0',
    '-device', 'virtio-rng-pci,rng=rng0,id=rng-device0',
    '-cpu', 'max',
  ];
  // -nodefaults drops the default CD-ROM (an error message at boot); -serial mon:stdio brings back
  // the serial port, with qemu's monitor behind Ctrl-A C.
  if (machine.headless) argv.push('-nographic', '-nodefaults', '-serial', 'mon:stdio');
  else argv.push('-vga', 'virtio');

  const network = machine.network;
  if (network?.type === 'user') {
    const forwards = network.forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`).join('');
    argv.push('-nic', `user,model=virtio-net-pci${forwards}`);
  } else if (network?.type === 'tap') {
    // script=no: systemd-networkd on the host configures the link, not qemu's scripts.
    argv.push('-nic', `tap,script=no,downscript=no,ifname=${network.ifname},model=virtio-net-pci`);
  }

  const boot = machine.boot;
  if (boot.type === 'uefi') {
    argv.push('-drive', `if=pflash,format=raw,readonly=on,file=${qemuPath(boot.firmware.code)}`);
    if (boot.firmware.secureBoot) {
      // OVMF's SMM build hangs on S3 resume support and needs its variable flash marked secure.
      argv.push('-global', 'ICH9-LPC.disable_s3=1', '-global', 'driver=cfi.pflash01,property=secure,value=on');
    }
    if (boot.firmware.vars) argv.push('-drive', `file=${qemuPath(boot.firmware.vars)},if=pflash,format=raw`);
  } else {
    argv.push('-kernel', boot.kernel, '-initrd', boot.initrd, '-append', boot.append);
  }

  const disk = machine.disk;
  if (disk?.bus === 'virtio') {
    argv.push('-drive', `if=virtio,id=hd,file=${qemuPath(disk.file)},format=${disk.format}`);
  } else if (disk) {
    argv.push('-drive', `if=none,id=hd,file=${qemuPath(disk.file)},format=${disk.format}`, '-device', 'virtio-scsi-pci,id=scsi', '-device', 'scsi-hd,drive=hd,bootindex=1');
  }
  argv.push(...(machine.extraArgs ?? []));
  return argv;
}
