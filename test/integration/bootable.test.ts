/**
 * images/bootable-vm, built three ways with every loop device masked and booted in qemu (each boot is
 * about a minute of software emulation here, far more while others build), so every image is built
 * once and checked as far as it goes without booting first:
 *   ext4.raw      gpt_ext4 (the ESP written in place), a unified kernel image; SecureBoot=yes with the
 *                 keys kiln genkey made and SignExpectedPCR=yes (so the signed image is what boots);
 *                 a build script, whose development image makes the cached root, without the
 *                 initrd, from which the image's root and its cached initrd are made: booted by kiln
 *                 qemu with UEFI on an Ephemeral= copy, reached with kiln ssh, root logged in on the
 *                 serial console
 *   squashfs.raw  gpt_squashfs with Verity=yes, read-only, WithUnifiedKernelImages=no (a type-1 entry
 *                 with roothash=), its initrd from the incremental cache (CacheInitrd=yes); booted by
 *                 qemu with OVMF directly, not kiln, with one byte of a file flipped: the root comes up
 *                 verified, and reading that file fails with an I/O error (one boot proves both)
 *   btrfs.raw     gpt_btrfs with XbootldrSize= (the image's /boot and the unified kernel image in a
 *                 boot loader partition), SplitArtifacts= (btrfs.efi beside it, in SHA256SUMS); booted
 *                 by kiln qemu with QemuBoot=linux (kernel and initrd read out of XBOOTLDR, no firmware)
 * All three share one cached root and initrd: btrfs-progs, which mkosi 14 adds to bootable gpt_btrfs
 * images, is in every one's Packages=, so the package lists match. gpt_xfs differs from gpt_ext4 only
 * in the root partition, which the disk tests cover.
 * The test adds a unit to the copy's mkosi.extra that prints a marker on the serial console once
 * multi-user.target is reached (and, for squashfs.raw and btrfs.raw, powers the machine off).
 * Only ext4.raw boots for the first time as users' images do (machine ID `uninitialized`): the other
 * two get MachineID=, which spares their boots systemd's first-boot work (preset-all and the machine
 * ID's commit; half a minute of emulation) that says nothing about verity or direct kernel boot.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUdev, extractPartition, partitionTable, run, sh, sha256File, withoutLoopDevices } from './disk-helpers.js';
import { KILN, makeProject, processesMentioning, runAsync, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { bootWithOvmf, espOf, markerOf, runWithDeadline, ukiSections } from './helpers/vm.js';

const TOOLS = ['sfdisk', 'mkfs.fat', 'mcopy', 'fsck.fat', 'objcopy', 'veritysetup', 'mksquashfs', 'mkfs.btrfs', 'qemu-system-x86_64', 'ssh', 'systemd-dissect', '/lib/systemd/systemd-udevd', '/usr/share/OVMF/OVMF_CODE.secboot.fd', '/usr/share/OVMF/OVMF_CODE.fd', 'sbsign', 'sbverify', 'openssl', 'swtpm', '/usr/lib/systemd/systemd-measure'];
const reason = whyNotRoot(TOOLS);

const ROOT_TYPE = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';
const XBOOTLDR_TYPE = 'bc13c2ff-59e6-4262-a352-b275fd6f7172';
const BOOT_MS = 20 * 60_000;
const TEST_MS = BOOT_MS + 5 * 60_000;
/** Three builds take about 4 minutes on a quiet machine, and far longer when others build too. */
const BUILDS_MS = 75 * 60_000;
const CMDLINE = 'rhgb selinux=0 audit=0 console=ttyS0 loglevel=4 rw';

// To the kernel's log, which the kernel prints on its console (console=ttyS0) at priority 2: a write
// to /dev/ttyS0 itself fails with EIO once serial-getty's agetty hangs the line up, which it does
// when it starts, and a Type=idle getty starts 5 s into a slow marker (a loaded CI machine).
const MARKER_UNIT = `[Unit]
Description=kiln test: a marker on the serial console once multi-user.target is reached
DefaultDependencies=no
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "<2>KILN-MARKER fs=$(findmnt -no FSTYPE /) options=$(findmnt -no OPTIONS /) multi-user=$(systemctl is-active multi-user.target) efi=$(test -d /sys/firmware/efi && echo yes || echo no) serial=$(cat /sys/class/dmi/id/product_serial)" >/dev/kmsg'

[Install]
WantedBy=multi-user.target
`;

/**
 * Run before the marker in squashfs.raw: how the root is mounted, dm-verity's status of it (V:
 * verified so far, C: corruption seen), then a read of the file whose byte the test flipped, then the
 * status again.
 */
const VERITY_CHECK = `dev=$(findmnt -no SOURCE /)
set -- $(dmsetup table root)
target=$3 roothash=\${12}
status() { set -- $(dmsetup status root); echo "$4"; }
before=$(status)
error=$(cat /var/lib/kiln-test/noise 2>&1 >/dev/null) && error=none
echo "<2>KILN-VERITY source=$dev target=$target roothash=$roothash before=$before after=$(status) read=$error" >/dev/kmsg
`;
/** A file that squashfs stores as it is (random bytes do not compress), so its bytes can be found in the image. */
const NOISE = randomBytes(512 * 1024);

/** The offset of `needle` in the file from `start`, or -1; read in chunks (images are large). */
function findBytes(file: string, needle: Buffer, start = 0): number {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(16 * 1024 ** 2);
    for (let position = start; ; position += chunk.length - needle.length) {
      const read = readSync(fd, chunk, 0, chunk.length, position);
      const found = chunk.subarray(0, read).indexOf(needle);
      if (found >= 0) return position + found;
      if (read < chunk.length) return -1;
    }
  } finally {
    closeSync(fd);
  }
}

function offsetOf(file: string, needle: Buffer, start: number): number {
  const offset = findBytes(file, needle, start);
  if (offset < 0) throw new Error(`${file} does not hold the bytes looked for`);
  return offset;
}

/**
 * The files below `dir` that contain `needle`. Not grep -r -a: the disk images are gigabytes of
 * holes without a newline, which grep holds as one line (two minutes per image here).
 */
function filesContaining(dir: string, needle: Buffer): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(dir, name))
    .filter((file) => lstatSync(file).isFile() && findBytes(file, needle) >= 0);
}

/** Flips every bit of the byte at `offset`; twice restores it. */
function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(reason)('images/bootable-vm: bootable UEFI disks', () => {
  let project: string;
  let poweroffTree: string;
  let verityTree: string;
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
  const cacheArgs = ['--cache', cache, '--incremental', '--cache-initrd', '--package=btrfs-progs'];
  const cacheSubdir = (): string => path.join(cache, readdirSync(cache).find((name) => name.startsWith('debian~'))!);
  const notFirstBoot = '--machine-id=4b494c4e2d746573742d626f6f746564';
  const variantArgs: Record<string, string[]> = {
    ext4: ['--output=ext4.raw', '--secure-boot', '--sign-expected-pcr', 'build-script'],
    // lz4: mksquashfs' default gzip -9 takes minutes of CPU for the 700 MB tree; the kernel reads lz4 too.
    squashfs: ['--format=gpt_squashfs', '--compress=lz4', '--verity=yes', '--without-unified-kernel-images', '--extra-tree=mkosi.extra', 'poweroff', 'verity', notFirstBoot, '--output=squashfs.raw'],
    btrfs: ['--format=gpt_btrfs', '--xbootldr-size=512M', '--split-artifacts', '--checksum', '--qemu-boot=linux', '--extra-tree=mkosi.extra', 'poweroff', notFirstBoot, '--output=btrfs.raw'],
  };
  const names = ['ext4', 'squashfs', 'btrfs'];
  /**
   * A file of an image's root, copied out by systemd-dissect from the root partition alone: on the
   * whole disk it would mount the ESP too, and this kernel has no vfat.
   */
  const copyFromRoot = (name: string, file: string): string => {
    const root = path.join(scratch, `${name}-root.img`);
    if (!existsSync(root)) extractPartition(image(name), partitionTable(image(name)).partitions.find((p) => p.type.toLowerCase() === ROOT_TYPE)!, root);
    const target = path.join(scratch, `${name}-${path.basename(file)}`);
    rmSync(target, { force: true });
    sh(['systemd-dissect', '--copy-from', root, file, target]);
    return target;
  };
  const trees = (): Record<string, string> => ({ poweroff: poweroffTree, verity: verityTree });
  const buildScript = path.join(scratch, 'kiln-test.build');
  const args = (name: string): string[] => [
    ...cacheArgs,
    ...variantArgs[name]!.map((arg) => (arg === 'build-script' ? `--build-script=${buildScript}` : arg in trees() ? `--extra-tree=${trees()[arg]}` : arg)),
  ];

  beforeAll(async () => {
    for (const name of existsSync(TEST_CACHE) ? readdirSync(TEST_CACHE).filter((n) => n.startsWith('debian~')) : []) {
      if (!existsSync(path.join(TEST_CACHE, name, 'packages'))) continue;
      mkdirSync(path.join(cache, name));
      sh(['cp', '-al', path.join(TEST_CACHE, name, 'packages'), path.join(cache, name, 'packages')]);
    }
    project = makeProject('bootable-vm');
    // mkosi.secure-boot.key and .crt, found beside mkosi.default by themselves.
    sh([KILN, 'genkey'], { cwd: project });
    const units = path.join(project, 'mkosi.extra/etc/systemd/system');
    mkdirSync(path.join(units, 'multi-user.target.wants'), { recursive: true });
    writeFileSync(path.join(units, 'kiln-marker.service'), MARKER_UNIT);
    symlinkSync('../kiln-marker.service', path.join(units, 'multi-user.target.wants/kiln-marker.service'));
    poweroffTree = path.join(scratch, 'poweroff');
    mkdirSync(path.join(poweroffTree, 'etc/systemd/system/kiln-marker.service.d'), { recursive: true });
    writeFileSync(path.join(poweroffTree, 'etc/systemd/system/kiln-marker.service.d/poweroff.conf'), '[Service]\nExecStartPost=/bin/systemctl poweroff --no-block\n');
    verityTree = path.join(scratch, 'verity');
    mkdirSync(path.join(verityTree, 'etc/systemd/system/kiln-marker.service.d'), { recursive: true });
    mkdirSync(path.join(verityTree, 'usr/local/lib'), { recursive: true });
    mkdirSync(path.join(verityTree, 'var/lib/kiln-test'), { recursive: true });
    writeFileSync(path.join(verityTree, 'etc/systemd/system/kiln-marker.service.d/verity.conf'), '[Service]\nExecStartPre=/bin/sh /usr/local/lib/kiln-verity-check\n');
    writeFileSync(path.join(verityTree, 'usr/local/lib/kiln-verity-check'), VERITY_CHECK);
    writeFileSync(path.join(verityTree, 'var/lib/kiln-test/noise'), NOISE);
    writeFileSync(buildScript, '#!/bin/sh\nset -e\nmkdir -p "$DESTDIR/usr/share/kiln-test"\necho "built in the development image" > "$DESTDIR/usr/share/kiln-test/built"\n', { mode: 0o755 });

    // ext4 first: it fills the incremental cache (packages and initrd) that the other two start from.
    for (const name of names) {
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

  it('writes a GPT that sfdisk verifies, the EFI system partition first and the root (and its verity) after it, and leaves no workspace', () => {
    for (const name of names) {
      expect(sh(['sfdisk', '--verify', image(name)])).toMatch(/^No errors detected\.$/m);
      const table = partitionTable(image(name));
      expect(table.partitions.map((p) => [p.type.toLowerCase(), p.name])).toEqual([
        ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'ESP System Partition'],
        ...(name === 'btrfs' ? [[XBOOTLDR_TYPE, 'Boot Loader Partition']] : []),
        [ROOT_TYPE, 'Root Partition'],
        ...(name === 'squashfs' ? [['2c7357ed-ebd2-46d9-aec1-23d437ec2bf5', 'Root Verity']] : []),
      ]);
      expect(table.partitions[0]!.size * 512).toBe(256 * 1024 ** 2);
    }
    expect(partitionTable(image('btrfs')).partitions[1]!.size * 512).toBe(512 * 1024 ** 2);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('is a bootable system for UEFI to systemd-dissect, with a FAT ESP that fsck.fat finds clean', () => {
    const expected: Record<string, RegExp> = { ext4: /^rw root .* ext4 /m, squashfs: /^ro root .* squashfs /m, btrfs: /^rw root .* btrfs /m };
    for (const name of names) {
      const report = sh(['systemd-dissect', image(name)]);
      expect(report).toContain('✓ bootable system for UEFI');
      expect(report).toMatch(/^rw esp .* vfat /m);
      expect(report).toMatch(expected[name]!);
      const fat = partitionTable(image(name)).partitions.filter((p) => p.type.toLowerCase() !== ROOT_TYPE && p.name !== 'Root Verity');
      for (const [index, partition] of fat.entries()) {
        const file = extractPartition(image(name), partition, path.join(scratch, `${name}-fat${index}.img`));
        expect(sh(['fsck.fat', '-n', file])).toMatch(/\d+ files, \d+\/\d+ clusters/);
        rmSync(file);
      }
    }
    expect(sh(['systemd-dissect', image('btrfs')])).toMatch(/^rw xbootldr .* vfat /m);
  });

  it('ext4: systemd-boot in the ESP, and a unified kernel image of the image\'s kernel with the configured command line and no root=', () => {
    const esp = espOf(image('ext4'));
    const copy = (file: string): string => copyFromRoot('ext4', file);
    // SecureBoot=yes signed each copy (and the image's .signed one for bootctl) on its own, as mkosi 14
    // does: apart from its signature, each is the image's systemd-boot, section for section.
    const loader = path.join(scratch, 'loader.efi');
    const peSections = (file: string): Record<string, string> => {
      const names = sh(['objdump', '-h', file]).split('\n').map((line) => /^\s*\d+\s+(\S+)/.exec(line)?.[1]).filter((name): name is string => name !== undefined);
      const dir = mkdtempSync(path.join(scratch, 'sections-'));
      sh(['objcopy', ...names.flatMap((name, index) => ['--dump-section', `${name}=${dir}/${index}`]), file, `${dir}/scratch.efi`]);
      const result = Object.fromEntries(names.map((name, index) => [name, sha256File(`${dir}/${index}`)]));
      rmSync(dir, { recursive: true, force: true });
      return result;
    };
    const original = peSections(copy('/usr/lib/systemd/boot/efi/systemd-bootx64.efi'));
    expect(Object.keys(original)).toContain('.text');
    for (const file of ['/EFI/BOOT/BOOTX64.EFI', '/EFI/systemd/systemd-bootx64.efi', 'image']) {
      if (file === 'image') sh(['cp', copy('/usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed'), loader]);
      else esp.copy(file, loader);
      expect(peSections(loader), file).toEqual(original);
      rmSync(loader);
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

  it('SecureBoot=yes: sbverify accepts systemd-boot (both copies) and the UKI of the ESP with the certificate; an unsigned one and one signed with another key fail the same check', () => {
    const certificate = path.join(project, 'mkosi.secure-boot.crt');
    const verify = (file: string, cert = certificate) => run(['sbverify', '--cert', cert, file]);
    const esp = espOf(image('ext4'));
    const signed = ['/EFI/BOOT/BOOTX64.EFI', '/EFI/systemd/systemd-bootx64.efi', ...esp.list('/EFI/Linux')];
    expect(signed).toHaveLength(3);
    for (const [index, file] of signed.entries()) {
      const target = path.join(scratch, `signed-${index}.efi`);
      esp.copy(file, target);
      expect(verify(target), file).toMatchObject({ status: 0, stdout: expect.stringContaining('Signature verification OK') });
    }
    // The image's own signed copy (for bootctl update) passes too.
    expect(verify(copyFromRoot('ext4', '/usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed')).status).toBe(0);
    // squashfs.raw was built without SecureBoot=: its systemd-boot is unsigned.
    const unsigned = path.join(scratch, 'unsigned.efi');
    espOf(image('squashfs')).copy('/EFI/BOOT/BOOTX64.EFI', unsigned);
    expect(verify(unsigned)).toMatchObject({ status: 1, stderr: expect.stringContaining('No signature table present') });
    // Signed, but by another key: refused by the same check, as our signature is by another one.
    const other = path.join(scratch, 'other');
    sh(['openssl', 'req', '-new', '-x509', '-newkey', 'rsa:2048', '-keyout', `${other}.key`, '-out', `${other}.crt`, '-days', '1', '-subj', '/CN=someone else/', '-nodes']);
    sh(['sbsign', '--key', `${other}.key`, '--cert', `${other}.crt`, '--output', `${unsigned}.other`, unsigned]);
    expect(verify(`${unsigned}.other`, `${other}.crt`).status).toBe(0);
    expect(verify(`${unsigned}.other`)).toMatchObject({ status: 1, stdout: expect.stringContaining('Signature verification failed') });
    expect(verify(path.join(scratch, 'signed-2.efi'), `${other}.crt`).status).toBe(1);
  });

  it('SignExpectedPCR=yes: the UKI carries the certificate\'s public key and systemd-measure\'s signed PCR 11 policies, which verify against that key only', () => {
    const uki = path.join(scratch, 'signed-2.efi');
    const dir = mkdtempSync(path.join(scratch, 'pcr-'));
    sh(['objcopy', '--dump-section', `.pcrsig=${dir}/pcrsig.json`, '--dump-section', `.pcrpkey=${dir}/pcrpkey.pem`, uki, `${dir}/scratch.efi`]);
    expect(readFileSync(`${dir}/pcrpkey.pem`, 'utf8')).toBe(sh(['openssl', 'x509', '-in', path.join(project, 'mkosi.secure-boot.crt'), '-pubkey', '-noout']));
    const signatures = JSON.parse(readFileSync(`${dir}/pcrsig.json`, 'utf8')) as Record<string, { pcrs: number[]; pol: string; sig: string }[]>;
    // mkosi 14's banks; one policy per boot phase systemd-measure knows (four in systemd 252).
    expect(Object.keys(signatures).sort()).toEqual(['sha1', 'sha256']);
    for (const [bank, entries] of Object.entries(signatures)) {
      expect(entries.length).toBeGreaterThan(0);
      for (const [index, entry] of entries.entries()) {
        expect(entry.pcrs).toEqual([11]);
        writeFileSync(`${dir}/pol`, Buffer.from(entry.pol, 'hex'));
        writeFileSync(`${dir}/sig`, Buffer.from(entry.sig, 'base64'));
        const check = (key: string) => run(['openssl', 'dgst', `-${bank}`, '-verify', key, '-signature', `${dir}/sig`, `${dir}/pol`]);
        expect(check(`${dir}/pcrpkey.pem`), `${bank} #${index}`).toMatchObject({ status: 0, stdout: 'Verified OK\n' });
        sh(['openssl', 'x509', '-in', path.join(scratch, 'other.crt'), '-pubkey', '-noout', '-out', `${dir}/other.pem`]);
        expect(check(`${dir}/other.pem`).status).toBe(1);
      }
    }
  });

  it('squashfs: a type-1 boot entry instead, with the read-only command line and roothash=, and the initrd made once for the cache', () => {
    const rootHash = readFileSync(path.join(project, 'squashfs.root.roothash'), 'utf8').trim();
    expect(rootHash).toMatch(/^[0-9a-f]{64}$/);
    const esp = espOf(image('squashfs'));
    expect(() => esp.list('/EFI/Linux')).toThrow();
    const entries = esp.list('/loader/entries');
    expect(entries).toHaveLength(1);
    const entry = esp.read(entries[0]!);
    const version = /^version (.*)$/m.exec(entry)![1]!;
    expect(entry).toBe(
      `title Debian GNU/Linux 12 (bookworm)\nversion ${version}\noptions rhgb selinux=0 audit=0 console=ttyS0 loglevel=4 roothash=${rootHash}\nlinux /debian/${version}/linux\ninitrd /debian/${version}/initrd\n`,
    );
    esp.copy(`/debian/${version}/initrd`, path.join(scratch, 'squashfs-initrd'));
    const ext4 = espOf(image('ext4'));
    ext4.copy(ext4.list('/EFI/Linux')[0]!, path.join(scratch, 'ext4-uki.efi'));
    // CacheInitrd=yes: all images got the initrd that was made once, before the root was cached.
    expect(readFileSync(path.join(scratch, 'squashfs-initrd')).equals(ukiSections(path.join(scratch, 'ext4-uki.efi')).initrd)).toBe(true);
    expect(logs.get('ext4')).toContain('Making the initrd (CacheInitrd=yes');
    // The build script's development image never gets the initrd: its root, cached first, is the one
    // the image's root (with the initrd) was made from, without a second bootstrap.
    expect(logs.get('ext4')).toMatch(/^‣ Saving the cached root [0-9a-f]{16} \(development image\)/m);
    expect(logs.get('ext4')).toMatch(/^‣ Starting from the cached root [0-9a-f]{16}, which lacks the initrd/m);
    expect(logs.get('ext4')!.match(/^‣ Installing packages/gm)).toHaveLength(1);
    expect(readFileSync(copyFromRoot('ext4', '/usr/share/kiln-test/built'), 'utf8')).toBe('built in the development image\n');
    expect(logs.get('squashfs')).not.toContain('Making the initrd');
    expect(logs.get('btrfs')).not.toContain('Making the initrd');
  });

  it('squashfs: veritysetup verify accepts the root against its hash partition and root hash, and refuses it with one byte flipped', () => {
    const rootHash = readFileSync(path.join(project, 'squashfs.root.roothash'), 'utf8').trim();
    const [, root, verity] = partitionTable(image('squashfs')).partitions;
    const data = extractPartition(image('squashfs'), root!, path.join(scratch, 'squashfs-root.verity-data'));
    const hashes = extractPartition(image('squashfs'), verity!, path.join(scratch, 'squashfs-root.verity-hashes'));
    try {
      expect(run(['veritysetup', 'verify', data, hashes, rootHash]).status).toBe(0);
      flipByte(data, offsetOf(data, NOISE.subarray(256 * 1024, 256 * 1024 + 64), 0));
      const flipped = run(['veritysetup', 'verify', data, hashes, rootHash]);
      expect(flipped.status).not.toBe(0);
      expect(flipped.stderr).toMatch(/Verification of data area failed/);
    } finally {
      rmSync(data, { force: true });
      rmSync(hashes, { force: true });
    }
  });

  it('btrfs: XBOOTLDR holds the image\'s /boot and the unified kernel image, the root keeps an empty /boot, and btrfs.efi is that image, in SHA256SUMS', () => {
    const table = partitionTable(image('btrfs'));
    const xbootldr = espOf(image('btrfs'), XBOOTLDR_TYPE);
    expect(sh(['mlabel', '-s', '-i', `${image('btrfs')}@@${xbootldr.offset}`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } })).toMatch(/Volume label is XBOOTLDR/);
    const ukis = xbootldr.list('/EFI/Linux');
    expect(ukis).toHaveLength(1);
    const version = /debian-(.*)\.efi$/.exec(ukis[0]!)![1]!;
    expect(xbootldr.list('/')).toEqual(expect.arrayContaining(['/EFI/', `/vmlinuz-${version}`, `/initrd.img-${version}`, `/config-${version}`]));
    // The ESP keeps systemd-boot alone, which reads both partitions.
    const esp = espOf(image('btrfs'));
    expect(() => esp.list('/EFI/Linux')).toThrow();
    expect(esp.list('/EFI/BOOT')).toEqual(['/EFI/BOOT/BOOTX64.EFI']);
    const boot = copyFromRoot('btrfs', '/boot');
    expect(readdirSync(boot)).toEqual([]);
    // OutputSplitKernel=: the same bytes, named after the image as mkosi 14 names it.
    xbootldr.copy(ukis[0]!, path.join(scratch, 'btrfs-uki.efi'));
    expect(sha256File(path.join(project, 'btrfs.efi'))).toBe(sha256File(path.join(scratch, 'btrfs-uki.efi')));
    const sums = readFileSync(path.join(project, 'SHA256SUMS'), 'utf8');
    expect(sums).toContain(`${sha256File(path.join(project, 'btrfs.efi'))} *btrfs.efi\n`);
    expect(sums).toMatch(/^[0-9a-f]{64} \*btrfs\.root\.raw$/m);
    expect(sums).toMatch(/^[0-9a-f]{64} \*btrfs\.raw$/m);
    expect(table.partitions).toHaveLength(3);
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
    expect(filesContaining(path.dirname(key), Buffer.from(secret))).toEqual([key]);
    expect(filesContaining(project, Buffer.from(secret))).toEqual([]);
    for (const log of logs.values()) expect(log).not.toContain(secret);
    // The Secure Boot key likewise: in its own file only.
    const secureBootKey = path.join(project, 'mkosi.secure-boot.key');
    expect((statSync(secureBootKey).mode & 0o777).toString(8)).toBe('600');
    const keyLine = readFileSync(secureBootKey, 'utf8').split('\n').filter((line) => /^[A-Za-z0-9+/=]{60,}$/.test(line))[3]!;
    expect(keyLine).toBeDefined();
    expect(filesContaining(project, Buffer.from(keyLine))).toEqual([secureBootKey]);
    for (const log of logs.values()) expect(log).not.toContain(keyLine);
  });

  it('squashfs: qemu with OVMF, called directly, boots the type-1 entry to multi-user.target on a verified read-only root; the flipped byte is an I/O error', async () => {
    const rootHash = readFileSync(path.join(project, 'squashfs.root.roothash'), 'utf8').trim();
    // One byte in the middle of a file nothing reads before the marker unit does: the boot itself
    // reads only good blocks, so it comes up, and the read of that file shows what the flip does.
    const offset = offsetOf(image('squashfs'), NOISE.subarray(256 * 1024, 256 * 1024 + 64), partitionTable(image('squashfs')).partitions[1]!.start * 512);
    flipByte(image('squashfs'), offset);
    let boot: Awaited<ReturnType<typeof bootWithOvmf>>;
    try {
      boot = await bootWithOvmf(image('squashfs'), BOOT_MS);
    } finally {
      flipByte(image('squashfs'), offset);
    }
    const verity = /KILN-VERITY [^\r\n]*/.exec(boot.output)?.[0] ?? boot.output.slice(-3000);
    expect(verity).toMatch(new RegExp(`^KILN-VERITY source=/dev/mapper/root target=verity roothash=${rootHash} before=V after=C read=cat: /var/lib/kiln-test/noise: Input/output error$`));
    expect(boot.output).toMatch(/device-mapper: verity: .*: data block \d+ is corrupted/);
    expect(markerOf(boot.output) ?? boot.output.slice(-3000)).toMatch(/^KILN-MARKER fs=squashfs options=ro,\S* multi-user=active efi=yes /);
    expect(boot.status).toBe(0);
  }, TEST_MS);

  it('btrfs: kiln qemu boots the kernel and initrd of the image directly (QemuBoot=linux) to multi-user.target with the root writable', async () => {
    const vm = track(runWithDeadline([KILN, ...args('btrfs'), 'qemu'], { cwd: project, timeoutMs: BOOT_MS }));
    const ended = await vm;
    // efi=no: qemu loaded the kernel itself, without UEFI firmware (kiln passed root=PARTUUID=, as nothing else tells the initrd).
    expect(markerOf(ended.output) ?? ended.output.slice(-3000)).toMatch(/^KILN-MARKER fs=btrfs options=rw,\S* multi-user=active efi=no /);
    expect(ended.status).toBe(0);
  }, TEST_MS);

  it('kiln qemu killed with SIGKILL takes its machine with it, and the next kiln qemu its files: no qemu is left holding the disk', async () => {
    const qemuFiles = (): string[] => readdirSync(os.tmpdir()).filter((name) => name.startsWith('kiln-qemu-')).map((name) => path.join(os.tmpdir(), name));
    const before = qemuFiles();
    const vm = track(runWithDeadline([KILN, ...args('btrfs'), 'qemu'], { cwd: project, timeoutMs: 10 * 60_000 }));
    const machines = (): string[] => processesMentioning(image('btrfs')).filter((p) => p.includes('qemu-system'));
    for (let waited = 0; machines().length === 0; waited += 100) {
      if (waited > 5 * 60_000) throw new Error(`kiln qemu started no machine:\n${vm.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    process.kill(vm.pid, 'SIGKILL');
    for (let waited = 0; machines().length > 0 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(machines()).toEqual([]);
    expect((await vm).output).not.toContain('(killed after');
    // What the killed kiln could not remove (the firmware variables, the image's kernel and initrd)
    // goes with the next kiln qemu: here one that qemu refuses at once.
    const left = qemuFiles().filter((dir) => !before.includes(dir));
    expect(left).toHaveLength(1);
    const next = await runAsync([KILN, ...args('btrfs'), 'qemu', '--', '-kiln-no-such-option'], { cwd: project });
    expect(next.status).toBe(1);
    expect(next.stderr).toContain(`kiln: warning: removing ${left[0]}, the files of a kiln qemu that was killed`);
    expect(qemuFiles().filter((dir) => !before.includes(dir))).toEqual([]);
  }, TEST_MS);

  it('ext4: kiln qemu boots an Ephemeral= copy with UEFI; kiln ssh answers from inside, where root is logged in on the serial console', async () => {
    const before = sha256File(image('ext4'));
    // One virtual CPU, the default: a second one only doubles the emulation's CPU while the suite's
    // other file builds (QemuSmp= reaching qemu is unit-tested).
    const qemuArgs = ['--ephemeral', 'qemu', '--', '-smbios', 'type=1,serial=kiln-after-dashes'];
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
      expect(markerOf(vm.output()) ?? vm.output().slice(-3000)).toMatch(/^KILN-MARKER fs=ext4 options=rw,\S* multi-user=active efi=yes serial=kiln-after-dashes$/);
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
