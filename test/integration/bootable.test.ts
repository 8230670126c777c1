/**
 * images/bootable-vm, built two ways with every loop device masked and booted in qemu (each boot is
 * about a minute of software emulation here, far more while others build), so every image is built
 * once and checked as far as it goes without booting first:
 *   ext4.raw      gpt_ext4 (the ESP written in place), a unified kernel image; booted by kiln qemu with
 *                 UEFI on an Ephemeral= copy, reached with kiln ssh, root logged in on the serial console
 *   squashfs.raw  gpt_squashfs, read-only, WithUnifiedKernelImages=no (a type-1 entry), its initrd from
 *                 the incremental cache (CacheInitrd=yes); booted by qemu with OVMF directly, not kiln
 * gpt_btrfs and gpt_xfs differ from gpt_ext4 only in the root partition, which disk tests cover; a
 * third build (another kernel install and initrd, minutes here) would prove little more.
 * The test adds a unit to the copy's mkosi.extra that prints a marker on the serial console once
 * multi-user.target is reached (and, for squashfs.raw, powers the machine off).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUdev, extractPartition, partitionTable, run, sh, sha256File, withoutLoopDevices } from './disk-helpers.js';
import { KILN, makeProject, runAsync, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { bootWithOvmf, espOf, markerOf, runWithDeadline, ukiSections } from './helpers/vm.js';

const TOOLS = ['sfdisk', 'mkfs.fat', 'mcopy', 'fsck.fat', 'objcopy', 'qemu-system-x86_64', 'ssh', 'systemd-dissect', '/lib/systemd/systemd-udevd', '/usr/share/OVMF/OVMF_CODE.secboot.fd'];
const reason = whyNotRoot(TOOLS);

const BOOT_MS = 20 * 60_000;
const TEST_MS = BOOT_MS + 5 * 60_000;
/** Two builds take about 3 minutes on a quiet machine, and far longer when others build too. */
const BUILDS_MS = 75 * 60_000;
const CMDLINE = 'rhgb selinux=0 audit=0 console=ttyS0 loglevel=4 rw';

const MARKER_UNIT = `[Unit]
Description=kiln test: a marker on the serial console once multi-user.target is reached
DefaultDependencies=no
After=multi-user.target

[Service]
Type=oneshot
StandardOutput=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/sh -c 'echo "KILN-MARKER fs=$(findmnt -no FSTYPE /) options=$(findmnt -no OPTIONS /) multi-user=$(systemctl is-active multi-user.target) serial=$(cat /sys/class/dmi/id/product_serial)"'

[Install]
WantedBy=multi-user.target
`;

describe.skipIf(reason)('images/bootable-vm: bootable UEFI disks', () => {
  let project: string;
  let poweroffTree: string;
  const logs = new Map<string, string>();
  let stopUdev: () => void = () => undefined;
  /** Builds and machines still running when a hook or test gives up: ended before the project goes. */
  const running = new Set<ReturnType<typeof runWithDeadline>>();
  const track = (started: ReturnType<typeof runWithDeadline>): ReturnType<typeof runWithDeadline> => {
    running.add(started);
    void started.finally(() => running.delete(started));
    return started;
  };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'kiln-bootable-'));
  const image = (name: string): string => path.join(project, `${name}.raw`);
  // A cache of its own, so that the first build always makes the cached root and its initrd; the
  // downloaded packages are shared (hard links), as everywhere.
  const cache = mkdtempSync(path.join(path.dirname(TEST_CACHE), 'kiln-bootable-cache-'));
  const cacheArgs = ['--cache', cache, '--incremental', '--cache-initrd'];
  const cacheSubdir = (): string => path.join(cache, readdirSync(cache).find((name) => name.startsWith('debian~'))!);
  const variantArgs: Record<string, string[]> = {
    ext4: ['--output=ext4.raw'],
    // lz4: mksquashfs' default gzip -9 takes minutes of CPU for the 700 MB tree; the kernel reads lz4 too.
    squashfs: ['--format=gpt_squashfs', '--compress=lz4', '--without-unified-kernel-images', '--extra-tree=mkosi.extra', '', '--output=squashfs.raw'],
  };
  /**
   * A file of an image's root, copied out by systemd-dissect from the root partition alone: on the
   * whole disk it would mount the ESP too, and this kernel has no vfat.
   */
  const copyFromRoot = (name: string, file: string): string => {
    const root = path.join(scratch, `${name}-root.img`);
    if (!existsSync(root)) extractPartition(image(name), partitionTable(image(name)).partitions[1]!, root);
    const target = path.join(scratch, `${name}-${path.basename(file)}`);
    rmSync(target, { force: true });
    sh(['systemd-dissect', '--copy-from', root, file, target]);
    return target;
  };
  const args = (name: string): string[] => [...cacheArgs, ...variantArgs[name]!.map((arg) => arg || `--extra-tree=${poweroffTree}`)];

  beforeAll(async () => {
    for (const name of existsSync(TEST_CACHE) ? readdirSync(TEST_CACHE).filter((n) => n.startsWith('debian~')) : []) {
      if (!existsSync(path.join(TEST_CACHE, name, 'packages'))) continue;
      mkdirSync(path.join(cache, name));
      sh(['cp', '-al', path.join(TEST_CACHE, name, 'packages'), path.join(cache, name, 'packages')]);
    }
    project = makeProject('bootable-vm');
    const units = path.join(project, 'mkosi.extra/etc/systemd/system');
    mkdirSync(path.join(units, 'multi-user.target.wants'), { recursive: true });
    writeFileSync(path.join(units, 'kiln-marker.service'), MARKER_UNIT);
    symlinkSync('../kiln-marker.service', path.join(units, 'multi-user.target.wants/kiln-marker.service'));
    poweroffTree = path.join(scratch, 'poweroff');
    mkdirSync(path.join(poweroffTree, 'etc/systemd/system/kiln-marker.service.d'), { recursive: true });
    writeFileSync(path.join(poweroffTree, 'etc/systemd/system/kiln-marker.service.d/poweroff.conf'), '[Service]\nExecStartPost=/bin/systemctl poweroff --no-block\n');

    // ext4 first: it fills the incremental cache (packages and initrd) that the other two start from.
    for (const name of ['ext4', 'squashfs']) {
      const started = performance.now();
      const result = await track(runWithDeadline(withoutLoopDevices([KILN, ...args(name), 'build']), { cwd: project, timeoutMs: BUILDS_MS }));
      if (result.status !== 0) throw new Error(`kiln build of ${name}.raw exited with ${result.status}:\n${result.output}`);
      logs.set(name, result.output);
      const stages = result.output.split('\n').filter((line) => line.startsWith('‣ '));
      console.log(`kiln build of bootable-vm as ${name}.raw took ${Math.round(performance.now() - started)} ms:\n${stages.join('\n')}`);
    }
    stopUdev = ensureUdev();
  }, BUILDS_MS);

  afterAll(async () => {
    for (const started of running) started.kill();
    await Promise.all(running);
    stopUdev();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('writes a GPT that sfdisk verifies, the EFI system partition first and the root after it, and leaves no workspace', () => {
    for (const name of ['ext4', 'squashfs']) {
      expect(sh(['sfdisk', '--verify', image(name)])).toMatch(/^No errors detected\.$/m);
      const table = partitionTable(image(name));
      expect(table.partitions.map((p) => [p.type.toLowerCase(), p.name])).toEqual([
        ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'ESP System Partition'],
        ['4f68bce3-e8cd-4db1-96e7-fbcaf984b709', 'Root Partition'],
      ]);
      expect(table.partitions[0]!.size * 512).toBe(256 * 1024 ** 2);
    }
    expect(workspacesIn(project)).toEqual([]);
  });

  it('is a bootable system for UEFI to systemd-dissect, with a FAT ESP that fsck.fat finds clean', () => {
    const expected: Record<string, RegExp> = { ext4: /^rw root .* ext4 /m, squashfs: /^ro root .* squashfs /m };
    for (const name of ['ext4', 'squashfs']) {
      const report = sh(['systemd-dissect', image(name)]);
      expect(report).toContain('✓ bootable system for UEFI');
      expect(report).toMatch(/^rw esp .* vfat /m);
      expect(report).toMatch(expected[name]!);
      const esp = extractPartition(image(name), partitionTable(image(name)).partitions[0]!, path.join(scratch, `${name}-esp.img`));
      expect(sh(['fsck.fat', '-n', esp])).toMatch(/\d+ files, \d+\/\d+ clusters/);
      rmSync(esp);
    }
  });

  it('ext4: systemd-boot in the ESP, and a unified kernel image of the image\'s kernel with the configured command line and no root=', () => {
    const esp = espOf(image('ext4'));
    const copy = (file: string): string => copyFromRoot('ext4', file);
    const systemdBoot = readFileSync(copy('/usr/lib/systemd/boot/efi/systemd-bootx64.efi'));
    for (const file of ['/EFI/BOOT/BOOTX64.EFI', '/EFI/systemd/systemd-bootx64.efi']) {
      esp.copy(file, path.join(scratch, 'loader.efi'));
      expect(readFileSync(path.join(scratch, 'loader.efi')).equals(systemdBoot)).toBe(true);
      rmSync(path.join(scratch, 'loader.efi'));
    }
    const ukis = esp.list('/EFI/Linux');
    expect(ukis).toHaveLength(1);
    expect(ukis[0]).toMatch(/^\/EFI\/Linux\/debian-\d[^/]*-amd64\.efi$/);
    esp.copy(ukis[0]!, path.join(scratch, 'uki.efi'));
    const sections = ukiSections(path.join(scratch, 'uki.efi'));
    expect(sections.cmdline).toBe(CMDLINE);
    expect(readFileSync(copy('/etc/kernel/cmdline'), 'utf8')).toBe(`${CMDLINE}\n`);
    expect(sections.osrel).toContain('ID=debian');
    const version = /debian-(.*)\.efi$/.exec(ukis[0]!)![1]!;
    expect(sections.linux.equals(readFileSync(copy(`/boot/vmlinuz-${version}`)))).toBe(true);
    expect(sections.initrd.equals(readFileSync(copy(`/boot/initrd.img-${version}`)))).toBe(true);
    // zstd's magic: kiln compresses dracut's output itself.
    expect(sections.initrd.subarray(0, 4).toString('hex')).toBe('28b52ffd');
  });

  it('squashfs: a type-1 boot entry instead, with the read-only command line, and the initrd made once for the cache', () => {
    const esp = espOf(image('squashfs'));
    expect(() => esp.list('/EFI/Linux')).toThrow();
    const entries = esp.list('/loader/entries');
    expect(entries).toHaveLength(1);
    const entry = esp.read(entries[0]!);
    const version = /^version (.*)$/m.exec(entry)![1]!;
    expect(entry).toBe(
      `title Debian GNU/Linux 12 (bookworm)\nversion ${version}\noptions rhgb selinux=0 audit=0 console=ttyS0 loglevel=4\nlinux /debian/${version}/linux\ninitrd /debian/${version}/initrd\n`,
    );
    esp.copy(`/debian/${version}/initrd`, path.join(scratch, 'squashfs-initrd'));
    const ext4 = espOf(image('ext4'));
    ext4.copy(ext4.list('/EFI/Linux')[0]!, path.join(scratch, 'ext4-uki.efi'));
    // CacheInitrd=yes: both images got the initrd that was made once, before the root was cached.
    expect(readFileSync(path.join(scratch, 'squashfs-initrd')).equals(ukiSections(path.join(scratch, 'ext4-uki.efi')).initrd)).toBe(true);
    expect(logs.get('ext4')).toContain('Making the initrd (CacheInitrd=yes');
    expect(logs.get('squashfs')).not.toContain('Making the initrd');
  });

  it('Ssh=yes: root\'s authorized_keys holds the public half of kiln\'s key; the private half is in no output and no log', () => {
    const key = path.join(cacheSubdir(), 'ssh', 'id_ed25519');
    expect(readFileSync(`${key}.pub`, 'utf8')).toMatch(/^ssh-ed25519 \S+ kiln\n$/);
    expect((statSync(key).mode & 0o777).toString(8)).toBe('600');
    const target = path.join(scratch, 'authorized_keys');
    sh(['cp', copyFromRoot('ext4', '/root/.ssh/authorized_keys'), target]);
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(`${key}.pub`, 'utf8'));
    // A line of the key's base64 body: found in the key file, and nowhere in what the builds left or said.
    const secret = readFileSync(key, 'utf8').split('\n').filter((line) => /^[A-Za-z0-9+/=]{40,}$/.test(line))[1]!;
    expect(secret).toBeDefined();
    expect(sh(['grep', '-c', '-F', secret, key]).trim()).toBe('1');
    const leaks = run(['grep', '-r', '-l', '-a', '-F', secret, project]);
    expect({ status: leaks.status, files: leaks.stdout }).toEqual({ status: 1, files: '' });
    for (const log of logs.values()) expect(log).not.toContain(secret);
  });

  it('squashfs: qemu with OVMF, called directly, boots the type-1 entry to multi-user.target with the root read-only', async () => {
    const boot = await bootWithOvmf(image('squashfs'), BOOT_MS);
    expect(markerOf(boot.output) ?? boot.output.slice(-3000)).toMatch(/^KILN-MARKER fs=squashfs options=ro,\S* multi-user=active /);
    expect(boot.status).toBe(0);
  }, TEST_MS);

  it('ext4: kiln qemu boots an Ephemeral= copy with UEFI; kiln ssh answers from inside, where root is logged in on the serial console', async () => {
    const before = sha256File(image('ext4'));
    const qemuArgs = ['--ephemeral', '--qemu-smp=2', 'qemu', '--', '-smbios', 'type=1,serial=kiln-after-dashes'];
    const vm = track(runWithDeadline([KILN, ...args('ext4'), ...qemuArgs], { cwd: project, timeoutMs: BOOT_MS }));
    const ssh = (command: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      runAsync([KILN, ...args('ext4'), '--ssh-timeout=1200', 'ssh', ...command], { cwd: project });
    try {
      const state = await ssh(['systemctl', 'is-system-running', '--wait']);
      expect(['running', 'degraded'], `${state.stderr}\n${vm.output().slice(-3000)}`).toContain(state.stdout.trim());
      // Autologin=yes: agetty logs root in on ttyS0 (PAM's pam_succeed_if lines let it); waited for, not timed.
      const who = await ssh(['sh', '-c', "'until who | grep -q \"^root *ttyS0\"; do sleep 1; done; who'"]);
      expect(who.stdout).toMatch(/^root +ttyS0 /m);
      expect(vm.output()).toContain('bootable-vm login: root (automatic login)');
      expect(markerOf(vm.output()) ?? vm.output().slice(-3000)).toMatch(/^KILN-MARKER fs=ext4 options=rw,\S* multi-user=active serial=kiln-after-dashes$/);
      await ssh(['systemctl', 'poweroff']);
      const ended = await vm;
      expect(ended.status).toBe(0);
    } finally {
      vm.kill();
      await vm;
    }
    // The machine wrote to its disk (machine ID, journal), but only to the throwaway copy.
    expect(sha256File(image('ext4'))).toBe(before);
    expect(readdirSync(project).filter((name) => name.startsWith('.kiln-ephemeral-'))).toEqual([]);
    // Here KVM is missing or cannot run OVMF: one line says that qemu emulates the CPU instead.
    const tcgLines = vm.output().split('\n').filter((line) => line.includes('software (TCG)'));
    if (!existsSync('/dev/kvm')) expect(tcgLines).toHaveLength(1);
    else expect(tcgLines.length).toBeLessThanOrEqual(1);
    const after = await runAsync([KILN, ...args('ext4'), 'ssh', 'true'], { cwd: project });
    expect(after.status).toBe(1);
    expect(after.stderr).toBe('kiln: error: no machine of ext4.raw is running\nkiln: hint: start it with kiln qemu (in another terminal, or in the background)\n');
  }, TEST_MS);

  it('refuses what cannot boot in one line with a hint', async () => {
    const tar = await runAsync([KILN, '--format=tar', 'qemu'], { cwd: project });
    expect(tar.status).toBe(1);
    expect(tar.stderr).toBe('kiln: error: cannot boot a Format=tar image with qemu\nkiln: hint: qemu boots disks: Format=gpt_ext4 (or gpt_btrfs, gpt_xfs, gpt_squashfs) with Bootable=yes\n');
    const small = await runAsync([KILN, '--esp-size=16M', '--output=small.raw', 'build'], { cwd: project });
    expect(small.status).toBe(1);
    expect(small.stderr).toContain('ESPSize= is 16 MiB, but a FAT32 EFI system partition needs at least 33 MiB');
    expect(existsSync(path.join(project, 'small.raw'))).toBe(false);
  }, TEST_MS);
});
