/**
 * Reads files out of a built image without mounting it, to check what the benchmark claims: a
 * directory is read directly, a tarball with GNU tar, a GPT disk with sfdisk (to find the root
 * partition) and e2fsprogs' debugfs at that partition's offset — the file system's own tools, so
 * the check needs no loop device and leaves nothing mounted.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The output file name mkosi 14 and kiln both use by default. */
export const OUTPUT_NAMES = { directory: 'image', tar: 'image.tar.xz', gpt_ext4: 'image.raw' };

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
  throw new Error(`reading files from ${format} images is not implemented`);
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
