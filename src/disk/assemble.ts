/**
 * A GPT disk image put together in a plain file, never through a loop device. sfdisk writes the
 * partition table into a sparse scratch file of the full disk size; then the disk is written front
 * to back into a sink: the primary table area from the scratch file, each partition's file-system
 * image at its offset followed by zeros up to the partition's end, and the backup table area. The
 * sink hashes everything as it goes, so the artifact is never read back to checksum it.
 */
import fs, { type FileHandle } from 'node:fs/promises';
import { run } from '../run.js';
import { CHUNK, type ByteSink } from './byte-sink.js';
import { clipRanges, dataRanges } from './extents.js';
import { createSparseFile } from './filesystems.js';
import { sfdiskScript, type DiskLayout } from './layout.js';

/** Writes the table of `layout` into a new sparse file `file` of the disk's size. */
export async function writePartitionTable(layout: DiskLayout, file: string, searchPaths: readonly string[] = []): Promise<void> {
  await createSparseFile(file, layout.size);
  await run(['sfdisk', '--color=never', '--no-reread', '--no-tell-kernel', '--quiet', file], {
    input: sfdiskScript(layout),
    what: 'Writing the partition table',
    searchPaths,
  });
}

/**
 * Copies `length` bytes of `file` from `start` into the sink (a short file ends in zeros). Only the
 * file's data extents are read; its holes go to the sink as zeros without touching the disk.
 */
export async function copyRange(file: string, start: number, length: number, sink: ByteSink, searchPaths: readonly string[] = []): Promise<void> {
  const ranges = (await dataRanges(file, searchPaths)) ?? [{ start: 0, end: Number.MAX_SAFE_INTEGER }];
  const handle = await fs.open(file, 'r');
  try {
    let done = 0;
    for (const range of clipRanges(ranges, start, length)) {
      await sink.zeros(range.start - done);
      await copyBytes(handle, start + range.start, range.end - range.start, sink);
      done = range.end;
    }
    await sink.zeros(length - done);
  } finally {
    await handle.close();
  }
}

/** Copies `length` bytes at `start`, zeros past the end of the file; reads the next chunk while the sink takes this one. */
async function copyBytes(handle: FileHandle, start: number, length: number, sink: ByteSink): Promise<void> {
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  const readAt = async (done: number, buffer: Buffer): Promise<Buffer> => {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, length - done), start + done);
    return buffer.subarray(0, bytesRead);
  };
  let pending: Promise<Buffer> | undefined;
  try {
    let done = 0;
    let turn = 0;
    pending = length > 0 ? readAt(0, buffers[0]!) : undefined;
    while (pending !== undefined) {
      const chunk = await pending;
      pending = undefined;
      if (chunk.length === 0) {
        await sink.zeros(length - done);
        return;
      }
      done += chunk.length;
      turn ^= 1;
      if (done < length) pending = readAt(done, buffers[turn]!);
      await sink.write(chunk);
    }
  } finally {
    await pending?.catch(() => undefined);
  }
}

/**
 * Writes the whole disk into `sink`. `images` maps partition numbers to file-system images, each no
 * larger than its partition; a partition without one is zeros.
 */
export async function writeDisk(
  layout: DiskLayout,
  tableFile: string,
  images: ReadonlyMap<number, string>,
  sink: ByteSink,
  searchPaths: readonly string[] = [],
): Promise<void> {
  const first = layout.partitions[0]?.offset ?? layout.size;
  await copyRange(tableFile, 0, first, sink, searchPaths);
  let position = first;
  for (const partition of layout.partitions) {
    if (partition.offset !== position) throw new Error(`internal: partition ${partition.number} starts at ${partition.offset}, not ${position}`);
    const image = images.get(partition.number);
    const imageSize = image === undefined ? 0 : (await fs.stat(image)).size;
    if (imageSize > partition.size) throw new Error(`internal: the image of partition ${partition.number} is larger than the partition`);
    if (image !== undefined) await copyRange(image, 0, imageSize, sink, searchPaths);
    await sink.zeros(partition.size - imageSize);
    position += partition.size;
  }
  await copyRange(tableFile, position, layout.size - position, sink, searchPaths);
}
