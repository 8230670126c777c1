/**
 * Reads files out of a built image to check what the benchmark claims: a directory is read
 * directly, a tarball with GNU tar, a gpt_ext4 disk with sfdisk (to find the root partition) and
 * e2fsprogs' debugfs at that partition's offset (no loop device, nothing mounted), other disks with
 * systemd-dissect.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The output file name mkosi 14 and kiln both use by default. */
export const OUTPUT_NAMES = { directory: 'image', tar: 'image.tar.xz', gpt_ext4: 'image.raw', gpt_btrfs: 'image.raw', gpt_xfs: 'image.raw', gpt_squashfs: 'image.raw' };

// Root partition types (Discoverable Partitions Specification), and the generic Linux type.
const ROOT_TYPES = new Set([
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', // root x86-64
  'B921B045-1DF0-41C3-AF44-4C6F280D3FAE', // root arm64
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4', // Linux file system data
]);

async function rootPartitionOffset(raw) {
  const { stdout } = await exec('sfdisk', ['-J', raw]);
  const table = JSON.parse(stdout).partitiontable;
  const candidates = table.partitions.filter((p) => ROOT_TYPES.has(p.type.toUpperCase()));
  const root = candidates.sort((a, b) => b.size - a.size)[0];
  if (!root) throw new Error(`${raw}: no root partition in its partition table`);
  return root.start * (table.sectorsize ?? 512);
}

/** The text of `file` (an absolute path inside the image), or null when the image has no such file. */
export async function readImageFile(output, format, file) {
  const relative = file.replace(/^\/+/, '');
  if (format === 'directory') {
    return fs.readFile(path.join(output, relative), 'utf8').catch(() => null);
  }
  if (format === 'tar') {
    const result = await exec('tar', ['-xOf', output, '--wildcards', `*${relative}`], { maxBuffer: 64 << 20 }).catch(() => null);
    return result ? result.stdout : null;
  }
  if (format === 'gpt_ext4') {
    const offset = await rootPartitionOffset(output);
    const { stdout, stderr } = await exec('debugfs', ['-R', `cat /${relative}`, `${output}?offset=${offset}`], { maxBuffer: 64 << 20 });
    return /File not found|not found by ext2_lookup/.test(stderr) ? null : stdout;
  }
  if (format.startsWith('gpt_')) return dissectCopy(output, relative);
  throw new Error(`reading files from ${format} images is not implemented`);
}

let startedUdev = [];

/**
 * For disks whose file system has no offset-reading tool here (btrfs, xfs, squashfs): systemd's
 * own systemd-dissect --copy-from, which needs loop devices (as mkosi does) and a running udevd.
 */
async function dissectCopy(output, relative) {
  ensureUdev();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-bench-copy-'));
  try {
    const target = path.join(dir, 'file');
    const copied = await exec('systemd-dissect', ['--copy-from', output, `/${relative}`, target]).then(() => true, () => false);
    return copied ? await fs.readFile(target, 'utf8') : null;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function ensureUdev() {
  if (spawnSync('udevadm', ['control', '--ping', '--timeout=2']).status === 0) return;
  const pids = () => spawnSync('pgrep', ['-x', 'systemd-udevd'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const before = new Set(pids());
  spawnSync('/lib/systemd/systemd-udevd', ['--daemon']);
  spawnSync('udevadm', ['trigger', '--action=add']);
  spawnSync('udevadm', ['settle']);
  startedUdev = pids().filter((pid) => !before.has(pid));
}

/** Stops a udevd the checks started (synchronous: it runs in the harness's exit handler). */
export function stopUdev() {
  for (const pid of startedUdev.splice(0)) {
    try {
      process.kill(Number(pid));
    } catch {
      // already gone
    }
  }
}

/** Whether dpkg's database in the image records `name` as installed. */
export async function hasPackage(output, format, name) {
  const status = await readImageFile(output, format, '/var/lib/dpkg/status');
  if (status === null) return false;
  return status.split(/\n\n+/).some((stanza) => {
    const fields = Object.fromEntries(stanza.split('\n').map((line) => [line.split(':')[0], line.slice(line.indexOf(':') + 1).trim()]));
    return fields.Package === name && fields.Status === 'install ok installed';
  });
}

export function outputPath(projectDir, format) {
  const file = path.join(projectDir, OUTPUT_NAMES[format]);
  if (!existsSync(file)) throw new Error(`the build left no ${OUTPUT_NAMES[format]} in ${projectDir}`);
  return file;
}

/** Runs a program of a directory image with systemd-nspawn (without systemd as PID 1 here); its stdout, or null. */
export async function runInImage(root, argv) {
  const nspawn = ['--quiet', '--register=no', '--keep-unit', '--as-pid2', '--console=pipe', '--private-network', `--directory=${root}`, '--', ...argv];
  const result = await exec('systemd-nspawn', nspawn).catch(() => null);
  return result ? result.stdout : null;
}

/** The unified kernel images in a disk's EFI system partition, read with mtools (nothing mounted). */
export async function espKernelImages(raw) {
  const { stdout } = await exec('sfdisk', ['-J', raw]);
  const table = JSON.parse(stdout).partitiontable;
  const esp = table.partitions.find((p) => p.type.toUpperCase() === 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  if (!esp) return [];
  const drive = `${raw}@@${esp.start * (table.sectorsize ?? 512)}`;
  const result = await exec('mdir', ['-b', '-i', drive, '::/EFI/Linux'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }).catch(() => null);
  return result ? result.stdout.split('\n').map((line) => line.trim()).filter((line) => line.toLowerCase().endsWith('.efi')) : [];
}
