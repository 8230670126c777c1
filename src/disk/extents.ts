/**
 * Where a sparse file holds data, from the kernel's extent map (FIEMAP, read with e2fsprogs'
 * filefrag): file-system images are partition-sized files that are mostly holes, and reading a
 * 3 GiB hole costs seconds of kernel time filling pages with zeros. With the map, a copy reads the
 * data and only counts the holes.
 */
import { ToolError } from '../errors.js';
import { locateTool } from '../host-tools.js';
import { run } from '../run.js';

/** A byte range [start, end) of a file. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/** One extent line of `filefrag -e -b1`: "   3: 13631488..30404607: 110499987456..110516760575: 16773120: …". */
const EXTENT = /^\s*\d+:\s*(\d+)\.\.\s*(\d+):/;

/** Sorted, merged byte ranges from filefrag's extent lines (offsets are inclusive there). */
export function parseExtents(output: string): Range[] {
  const ranges: Range[] = [];
  for (const line of output.split('\n')) {
    const match = EXTENT.exec(line);
    if (match) ranges.push({ start: Number(match[1]), end: Number(match[2]) + 1 });
  }
  ranges.sort((a, b) => a.start - b.start);
  const merged: Range[] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last && range.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, range.end) };
    else merged.push(range);
  }
  return merged;
}

/**
 * The data ranges of `file`, or null when they cannot be known (no filefrag, or a file system
 * without an extent map such as tmpfs): the caller then reads the whole file. Delayed-allocation
 * extents are part of the map, so data not yet on disk is not mistaken for a hole.
 */
export async function dataRanges(file: string, searchPaths: readonly string[] = []): Promise<Range[] | null> {
  if (!locateTool('filefrag', searchPaths)) return null;
  let output: string;
  try {
    ({ stdout: output } = await run(['filefrag', '-e', '-b1', file], { searchPaths, read: true }));
  } catch (error) {
    // "FIBMAP/FIEMAP unsupported" and the like: read the whole file instead.
    if (error instanceof ToolError) return null;
    throw error;
  }
  return / extents? found$/m.test(output) ? parseExtents(output) : null;
}

/** The parts of [start, start + length) that `ranges` cover, relative to `start`. */
export function clipRanges(ranges: readonly Range[], start: number, length: number): Range[] {
  const end = start + length;
  return ranges
    .filter((range) => range.end > start && range.start < end)
    .map((range) => ({ start: Math.max(range.start, start) - start, end: Math.min(range.end, end) - start }));
}
