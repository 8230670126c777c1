import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { directBootCommandLine, parseEntry } from '../../../src/boot/extract.js';
import { qemuArgv, type QemuMachine, type QemuNetwork } from '../../../src/qemu.js';
import { sshArgv } from '../../../src/verbs/ssh.js';
import { checkQemuConfig } from '../../../src/verbs/qemu.js';
import { findFirmware } from '../../../src/vm/firmware.js';
import { chooseAccelerator, judgeProbeOutput } from '../../../src/vm/kvm.js';
import { chooseNetwork, machineName, sshAnswers, tapName } from '../../../src/vm/network.js';
import { findVm, registerVm } from '../../../src/vm/registry.js';
import { configOf } from '../package-managers/config-of.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const FIRMWARE = { code: '/usr/share/OVMF/OVMF_CODE.secboot.fd', vars: '/tmp/run/OVMF_VARS.fd', secureBoot: true };

function machine(overrides: Partial<QemuMachine> = {}): QemuMachine {
  return {
    binary: 'qemu-system-x86_64',
    architecture: 'x86_64',
    accelerator: 'tcg',
    smp: '1',
    memory: '1G',
    headless: true,
    boot: { type: 'uefi', firmware: FIRMWARE },
    disk: { file: '/out/image.raw', format: 'raw', bus: 'virtio' },
    ...overrides,
  };
}

describe('the qemu command line', () => {
  it('is mkosi 14\'s: q35 with SMM for Secure Boot firmware, virtio-rng, a serial console, the firmware in flash, the disk on virtio', () => {
    expect(qemuArgv(machine())).toEqual([
      'qemu-system-x86_64',
      '-machine', 'type=q35,accel=tcg,smm=on',
      '-smp', '1',
      '-m', '1G',
      '-object', 'rng-random,filename=/dev/urandom,id=rng0',
      '-device', 'virtio-rng-pci,rng=rng0,id=rng-device0',
      '-cpu', 'max',
      '-nographic', '-nodefaults', '-serial', 'mon:stdio',
      '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.secboot.fd',
      '-global', 'ICH9-LPC.disable_s3=1', '-global', 'driver=cfi.pflash01,property=secure,value=on',
      '-drive', 'file=/tmp/run/OVMF_VARS.fd,if=pflash,format=raw',
      '-drive', 'if=virtio,id=hd,file=/out/image.raw,format=raw',
    ]);
  });

  it('boots the kernel directly, forwards ssh on 127.0.0.1, puts other distributions on virtio-scsi and the extra arguments last', () => {
    const argv = qemuArgv(
      machine({
        accelerator: 'kvm',
        headless: false,
        boot: { type: 'linux', kernel: '/w/linux', initrd: '/w/initrd', append: 'rw root=PARTUUID=x' },
        network: { type: 'user', forwards: [{ hostPort: 40022, guestPort: 22 }] },
        disk: { file: '/out/a,b.qcow2', format: 'qcow2', bus: 'scsi' },
        extraArgs: ['-smp', '4'],
      }),
    );
    expect(argv.slice(1, 3)).toEqual(['-machine', 'type=q35,accel=kvm,smm=off']);
    expect(argv).toContain('-vga');
    expect(argv.join(' ')).toContain('-nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:40022-:22');
    expect(argv.join(' ')).toContain('-kernel /w/linux -initrd /w/initrd -append rw root=PARTUUID=x');
    expect(argv.join(' ')).not.toContain('pflash');
    expect(argv.join(' ')).toContain('-drive if=none,id=hd,file=/out/a,,b.qcow2,format=qcow2 -device virtio-scsi-pci,id=scsi -device scsi-hd,drive=hd,bootindex=1');
    expect(argv.slice(-2)).toEqual(['-smp', '4']);
  });

  it('gives a tap link to qemu without its scripts', () => {
    expect(qemuArgv(machine({ network: { type: 'tap', ifname: 'vt-web' } })).join(' ')).toContain('-nic tap,script=no,downscript=no,ifname=vt-web,model=virtio-net-pci');
  });
});

describe('the firmware', () => {
  it('is found where mkosi 14 looks, Secure Boot builds first, with the variable store beside it', () => {
    const debian = new Set(['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_CODE.secboot.fd', '/usr/share/OVMF/OVMF_VARS.fd']);
    expect(findFirmware('x86_64', (f) => debian.has(f))).toEqual({ code: '/usr/share/OVMF/OVMF_CODE.secboot.fd', secureBoot: true, vars: '/usr/share/OVMF/OVMF_VARS.fd' });
    const arch = new Set(['/usr/share/ovmf/x64/OVMF_CODE.fd', '/usr/share/ovmf/x64/OVMF_VARS.fd', '/usr/share/OVMF/OVMF_CODE.secboot.fd']);
    expect(findFirmware('x86_64', (f) => arch.has(f))).toEqual({ code: '/usr/share/ovmf/x64/OVMF_CODE.fd', secureBoot: false, vars: '/usr/share/ovmf/x64/OVMF_VARS.fd' });
    expect(findFirmware('x86_64', () => false)).toBeUndefined();
  });
});

describe('KVM or TCG', () => {
  const works = async () => ({ works: true, why: '' });
  const broken = async () => ({ works: false, why: 'KVM internal error. Suberror: 1' });

  it('reads the firmware\'s output', () => {
    expect(judgeProbeOutput('BdsDxe: loading Boot0001 "UEFI Misc Device"')).toBe('works');
    expect(judgeProbeOutput('KVM internal error. Suberror: 1\nemulation failure')).toBe('fails');
    expect(judgeProbeOutput('qemu-system-x86_64: failed to initialize kvm: No such file or directory')).toBe('fails');
    expect(judgeProbeOutput('[=3h')).toBe('undecided');
  });

  it('takes KVM when the firmware runs under it, else TCG with one line saying why', async () => {
    expect(await chooseAccelerator({ value: true, explicit: false }, works, () => true)).toEqual({ accelerator: 'kvm' });
    const fallback = await chooseAccelerator({ value: true, explicit: false }, broken, () => true);
    expect(fallback.accelerator).toBe('tcg');
    expect(fallback.note).toBe('KVM cannot run the UEFI firmware here (KVM internal error. Suberror: 1): qemu emulates the CPU in software (TCG) instead');
    expect((await chooseAccelerator({ value: false, explicit: false }, works, () => false)).note).toMatch(/^no usable \/dev\/kvm/);
  });

  it('obeys QemuKvm= when it is set, and refuses QemuKvm=yes without /dev/kvm', async () => {
    expect(await chooseAccelerator({ value: false, explicit: true }, works, () => true)).toEqual({ accelerator: 'tcg' });
    expect(await chooseAccelerator({ value: true, explicit: true }, broken, () => true)).toEqual({ accelerator: 'kvm' });
    await expect(chooseAccelerator({ value: true, explicit: true }, works, () => false)).rejects.toThrow('QemuKvm=yes, but this host has no /dev/kvm that kiln can open');
  });
});

describe('the network of the machine', () => {
  const base = '[Output]\nBootable=yes\nHostname=web-server-number-one\n';

  it('is user networking with ssh forwarded from a free local port, or a tap link where the host serves one', async () => {
    expect(await chooseNetwork(configOf(base), async () => false)).toEqual({});
    expect(await chooseNetwork(configOf(`${base}[Host]\nNetdev=yes\n`), async () => false)).toEqual({ network: { type: 'user', forwards: [] } });
    const forwarded = await chooseNetwork(configOf(`${base}[Host]\nSsh=yes\nSshPort=2222\n`), async () => false);
    expect(forwarded.network).toEqual({ type: 'user', forwards: [{ hostPort: expect.any(Number), guestPort: 2222 }] });
    expect(forwarded.ssh).toEqual({ type: 'forward', port: (forwarded.network as Extract<QemuNetwork, { type: 'user' }>).forwards[0]!.hostPort });
    expect(await chooseNetwork(configOf(`${base}[Host]\nNetdev=yes\nSsh=yes\n`), async () => true)).toEqual({
      network: { type: 'tap', ifname: 'vt-web-server-n' },
      ssh: { type: 'link', ifname: 'vt-web-server-n', port: 22 },
    });
  });

  it('names the machine as mkosi 14: Hostname=, ImageId=, or the output up to its first "_"', () => {
    expect(machineName(configOf('[Output]\nImageId=web\nImageVersion=2\n'))).toBe('web');
    expect(machineName(configOf('[Output]\nOutput=app_1.raw\n'))).toBe('app');
    expect(tapName(configOf('[Output]\nHostname=h\n'))).toBe('vt-h');
  });

  it('counts an ssh server as up only when it says SSH-', async () => {
    const servers: net.Server[] = [];
    const listen = async (greeting: string | null): Promise<number> => {
      const server = net.createServer((socket) => (greeting === null ? socket.destroy() : socket.end(greeting)));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      return (server.address() as net.AddressInfo).port;
    };
    try {
      expect(await sshAnswers('127.0.0.1', await listen('SSH-2.0-OpenSSH_9.2\r\n'))).toBe(true);
      expect(await sshAnswers('127.0.0.1', await listen(null))).toBe(false);
      expect(await sshAnswers('127.0.0.1', await listen('HTTP/1.1 400\r\n'))).toBe(false);
    } finally {
      for (const server of servers) server.close();
    }
  });
});

describe('kiln ssh and its record of the running machine', () => {
  it('logs in as root with the key only, without checking the fresh machine\'s host key', () => {
    expect(sshArgv({ SshAgent: null }, '/cache/ssh/id_ed25519', { type: 'forward', port: 40022 }, '127.0.0.1', ['systemctl', 'is-system-running'])).toEqual([
      'ssh', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'LogLevel=ERROR',
      '-i', '/cache/ssh/id_ed25519', '-o', 'IdentitiesOnly=yes', '-p', '40022', 'root@127.0.0.1', '--', 'systemctl', 'is-system-running',
    ]);
    expect(sshArgv({ SshAgent: '/run/agent.sock' }, null, { type: 'link', ifname: 'vt-x', port: 22 }, 'fe80::1%vt-x', [])).toEqual([
      'ssh', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'LogLevel=ERROR',
      '-o', 'IdentityAgent=/run/agent.sock', '-p', '22', 'root@fe80::1%vt-x',
    ]);
  });

  it('finds a registered machine while its kiln runs, and forgets it afterwards', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-vms-'));
    dirs.push(directory);
    const remove = await registerVm({ pid: process.pid, image: '/out/image.raw', ssh: { type: 'forward', port: 40022 } }, directory);
    expect(await findVm('/out/image.raw', directory)).toEqual({ pid: process.pid, image: '/out/image.raw', ssh: { type: 'forward', port: 40022 } });
    expect(await findVm('/out/other.raw', directory)).toBeUndefined();
    await remove();
    expect(await findVm('/out/image.raw', directory)).toBeUndefined();
    await registerVm({ pid: 2 ** 22 + 1, image: '/out/image.raw' }, directory);
    expect(await findVm('/out/image.raw', directory)).toBeUndefined();
  });
});

describe('what kiln qemu refuses', () => {
  it('refuses what cannot boot, each with what to change', () => {
    expect(() => checkQemuConfig(configOf('[Output]\nFormat=tar\nBootable=yes\n'))).toThrow('cannot boot a Format=tar image with qemu');
    expect(() => checkQemuConfig(configOf('[Output]\nFormat=gpt_ext4\n'))).toThrow('an image built without Bootable=yes cannot boot in qemu');
    expect(() => checkQemuConfig(configOf('[Output]\nBootable=yes\nCompressOutput=xz\n'))).toThrow('cannot boot a compressed image with qemu');
    expect(() => checkQemuConfig(configOf('[Output]\nBootable=yes\nQCow2=yes\n[Host]\nQemuBoot=linux\n'))).toThrow('QemuBoot=linux reads the kernel out of the image');
    expect(() => checkQemuConfig(configOf('[Output]\nBootable=yes\nQCow2=yes\n'))).not.toThrow();
  });

  it('reads type-1 entries for QemuBoot=linux', () => {
    expect(parseEntry('title Debian\n# comment x\nlinux /d/6.1/linux\noptions  rw quiet \n')).toEqual({ title: 'Debian', linux: '/d/6.1/linux', options: 'rw quiet' });
  });

  it('tells the directly booted kernel where the root is, unless the command line already does (root=, Verity=\'s roothash=)', () => {
    const uuid = 'AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE';
    expect(directBootCommandLine(' rw  quiet ', uuid)).toBe('rw quiet root=PARTUUID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
    expect(directBootCommandLine('quiet roothash=abc', uuid)).toBe('quiet roothash=abc');
    expect(directBootCommandLine('usrhash=abc', undefined)).toBe('usrhash=abc');
    expect(directBootCommandLine('root=/dev/vda2 rw', uuid)).toBe('root=/dev/vda2 rw');
  });
});
