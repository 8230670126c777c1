/**
 * What `kiln qemu` boots with QemuBoot=linux: the kernel, initrd and command line of a built disk,
 * read back from its EFI system partition (or the boot loader partition, XBOOTLDR, where there is
 * one: kiln puts the kernels there then) with mtools (nothing is mounted) — out of the newest
 * unified kernel image (objcopy --dump-section), or the newest type-1 entry and its files. Without
 * a boot loader nothing tells the initrd where the root is (systemd-gpt-auto-generator needs the
 * loader's EFI variables), so root=PARTUUID= of the root partition is added, as mkosi 14 added
 * root=LABEL=root — unless Verity='s roothash= (or usrhash=) is there: systemd then finds the
 * partitions by the UUIDs the hash gives them and mounts the verified device, which a root= would
 * bypass. mkosi 14 kept copies of these files beside the image; kiln reads the image itself.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PARTITION_TYPES, rootPartitionType } from '../disk/partition-types.js';
import { UserError } from '../errors.js';
import { run } from '../run.js';
import { compareVersions } from './kernels.js';

export interface BootFiles {
  readonly kernel: string;
  readonly initrd: string;
  readonly commandLine: string;
}

interface TablePartition {
  readonly start: number;
  readonly type: string;
  readonly uuid: string;
}

const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

async function readTable(image: string, searchPaths: readonly string[]): Promise<TablePartition[]> {
  const { stdout } = await run(['sfdisk', '--json', image], { read: true, what: `Reading the partition table of ${image}`, searchPaths });
  return (JSON.parse(stdout) as { partitiontable: { partitions?: TablePartition[] } }).partitiontable.partitions ?? [];
}

/** Type-1 entry fields ("linux /x/y/linux") by key; the last of a repeated key wins. */
export function parseEntry(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (match && !match[1]!.startsWith('#')) fields[match[1]!] = match[2]!;
  }
  return fields;
}

/** The command line direct kernel boot passes: the image's own, and root= where nothing else finds the root. */
export function directBootCommandLine(commandLine: string, rootUuid: string | undefined): string {
  const words = commandLine.split(/\s+/).filter(Boolean);
  if (words.some((word) => /^(root|roothash|usrhash)=/.test(word))) return words.join(' ');
  return [...words, ...(rootUuid === undefined ? [] : [`root=PARTUUID=${rootUuid.toLowerCase()}`])].join(' ');
}

export async function extractBootFiles(image: string, architecture: string, dir: string, searchPaths: readonly string[] = []): Promise<BootFiles> {
  const partitions = await readTable(image, searchPaths);
  const esp = partitions.find((p) => p.type.toLowerCase() === PARTITION_TYPES.esp);
  const root = partitions.find((p) => p.type.toLowerCase() === rootPartitionType(architecture));
  if (!esp) throw new UserError(`${image} has no EFI system partition to boot from`, { hint: 'build it with Bootable=yes' });
  const xbootldr = partitions.find((p) => p.type.toLowerCase() === PARTITION_TYPES.xbootldr);
  const where = xbootldr ? 'the boot loader partition' : 'the ESP';
  const withRoot = (commandLine: string): string => {
    const line = directBootCommandLine(commandLine, root?.uuid);
    if (root === undefined && !/(^| )(root|roothash|usrhash)=/.test(line)) {
      throw new UserError(`${image} has no root partition to boot from`, { hint: 'build it with Bootable=yes' });
    }
    return line;
  };
  const drive = `${image}@@${(xbootldr ?? esp).start * 512}`;
  const mtools = (argv: string[], what: string) => run(argv, { env: MTOOLS_ENV, read: true, what, searchPaths });
  const list = async (folder: string): Promise<string[]> => {
    const result = await run(['mdir', '-b', '-i', drive, folder], { env: MTOOLS_ENV, read: true, okCodes: [1], searchPaths });
    return result.exitCode === 0 ? result.stdout.split('\n').map((line) => line.trim()).filter(Boolean) : [];
  };
  const newest = (files: string[], suffix: string): string | undefined =>
    files.filter((file) => file.toLowerCase().endsWith(suffix)).sort(compareVersions).at(-1);

  const uki = newest(await list('::/EFI/Linux'), '.efi');
  if (uki) {
    const copy = path.join(dir, 'uki.efi');
    await mtools(['mcopy', '-n', '-i', drive, uki, copy], `Copying the unified kernel image out of ${where}`);
    const files = { kernel: path.join(dir, 'linux'), initrd: path.join(dir, 'initrd'), cmdline: path.join(dir, 'cmdline') };
    await run(['objcopy', '--dump-section', `.linux=${files.kernel}`, '--dump-section', `.initrd=${files.initrd}`, '--dump-section', `.cmdline=${files.cmdline}`, copy, path.join(dir, 'scratch.efi')], {
      what: `Reading the kernel and initrd out of ${uki}`,
      searchPaths,
    });
    const commandLine = (await fs.readFile(files.cmdline, 'utf8')).replace(/\0/g, '').trim();
    return { kernel: files.kernel, initrd: files.initrd, commandLine: withRoot(commandLine) };
  }

  const entry = newest(await list('::/loader/entries'), '.conf');
  if (!entry) throw new UserError(`${where} of ${image} has neither a unified kernel image nor a boot entry`, { hint: 'build it with Bootable=yes' });
  const fields = parseEntry((await mtools(['mtype', '-i', drive, entry], 'Reading the boot entry')).stdout);
  if (!fields.linux || !fields.initrd) throw new UserError(`the boot entry ${entry} in ${image} names no linux or initrd`);
  const kernel = path.join(dir, 'linux');
  const initrd = path.join(dir, 'initrd');
  await mtools(['mcopy', '-n', '-i', drive, `::${fields.linux}`, kernel], `Copying the kernel out of ${where}`);
  await mtools(['mcopy', '-n', '-i', drive, `::${fields.initrd}`, initrd], `Copying the initrd out of ${where}`);
  return { kernel, initrd, commandLine: withRoot(fields.options ?? '') };
}
