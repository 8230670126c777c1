/**
 * Checking bootable disks with the real tools: the ESP read with mtools (this kernel has no vfat),
 * unified kernel images taken apart with objcopy, and virtual machines booted with qemu and OVMF —
 * directly, as the disk's users would, not through kiln. qemu emulates the CPU here (TCG): a boot
 * takes a minute or more, so every wait is generous and every machine is killed if it overstays.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sh } from '../disk-helpers.js';

const MTOOLS = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
const ESP_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

/** The ESP (or another FAT partition of that type, such as XBOOTLDR) of a disk image, read in place with mtools. */
export function espOf(image: string, type = ESP_TYPE): { list(dir: string): string[]; copy(file: string, target: string): void; read(file: string): string; offset: number } {
  const table = JSON.parse(sh(['sfdisk', '--json', image])) as { partitiontable: { partitions: { start: number; type: string }[] } };
  const esp = table.partitiontable.partitions.find((p) => p.type.toLowerCase() === type);
  if (!esp) throw new Error(`${image} has no partition of type ${type}`);
  const drive = `${image}@@${esp.start * 512}`;
  const mtools = (argv: string[]): string => sh(argv, { env: MTOOLS });
  return {
    offset: esp.start * 512,
    list: (dir) => mtools(['mdir', '-b', '-i', drive, `::${dir}`]).split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.replace(/^::/, '')),
    copy: (file, target) => void mtools(['mcopy', '-n', '-i', drive, `::${file}`, target]),
    read: (file) => mtools(['mtype', '-i', drive, `::${file}`]),
  };
}

/** The sections of a unified kernel image, dumped with objcopy. */
export function ukiSections(uki: string): { cmdline: string; osrel: string; linux: Buffer; initrd: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-uki-'));
  try {
    const files = ['cmdline', 'osrel', 'linux', 'initrd'].map((name) => ['--dump-section', `.${name}=${path.join(dir, name)}`]).flat();
    sh(['objcopy', ...files, uki, path.join(dir, 'scratch.efi')]);
    return {
      cmdline: readFileSync(path.join(dir, 'cmdline'), 'utf8'),
      osrel: readFileSync(path.join(dir, 'osrel'), 'utf8'),
      linux: readFileSync(path.join(dir, 'linux')),
      initrd: readFileSync(path.join(dir, 'initrd')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Finished {
  readonly status: number | null;
  readonly output: string;
}

/**
 * Runs a command to its end with its output collected; after `timeoutMs` its whole process group is
 * killed (kiln's qemu runs in kiln's group and holds the output pipe open, so killing kiln alone
 * would leave the wait hanging).
 */
export function runWithDeadline(argv: readonly string[], options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Finished> & { output(): string; kill(): void; pid: number } {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  let late: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    output += `\n(killed after ${options.timeoutMs} ms)\n`;
    killGroup();
  }, options.timeoutMs);
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      clearTimeout(late);
      resolve({ status, output });
    });
  });
  // SIGTERM lets kiln end qemu and clean up itself; the group goes too if that takes longer than a minute.
  const kill = (): void => {
    child.kill('SIGTERM');
    late = setTimeout(killGroup, 60_000);
  };
  return Object.assign(done, { output: () => output, kill, pid: child.pid! });
}

/**
 * Boots a disk with qemu and OVMF, headless, with software emulation and a fresh copy of the
 * firmware's variables; returns when the machine has powered off (or was killed). The firmware
 * without Secure Boot, as for a disk that is not signed: the Secure Boot build's SMM mode costs
 * ten seconds of emulation before the boot loader starts (18 s against 8 s here), and kiln qemu
 * boots the signed disk with that one.
 */
export async function bootWithOvmf(image: string, timeoutMs: number): Promise<Finished> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-ovmf-'));
  try {
    const vars = path.join(dir, 'OVMF_VARS.fd');
    copyFileSync('/usr/share/OVMF/OVMF_VARS.fd', vars);
    return await runWithDeadline(
      [
        'qemu-system-x86_64', '-machine', 'q35,accel=tcg', '-m', '1G', '-smp', '2',
        '-nographic', '-nodefaults', '-serial', 'mon:stdio',
        '-global', 'ICH9-LPC.disable_s3=1',
        '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd',
        '-drive', `if=pflash,format=raw,file=${vars}`,
        '-drive', `if=virtio,format=raw,file=${image}`,
      ],
      { timeoutMs },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The marker line the test image's kiln-marker.service prints on the serial console. */
export function markerOf(output: string): string | undefined {
  return /KILN-MARKER [^\r\n]*/.exec(output)?.[0];
}
