/**
 * RootSize= (and HomeSize=…) too small for the tree: kiln says so, and says what size works. How much
 * an ext4, btrfs or XFS needs beyond the files (journal, inode tables, metadata chunks) depends on
 * the size itself, so the number is found by trying: candidate sizes grow from an estimate until mkfs
 * succeeds in a sparse trial file. This costs a few mkfs runs, only on the way to the error.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ToolError, UserError } from '../errors.js';
import type { FileSystemJob } from './filesystems.js';
import { alignUp, formatBytes, MiB, XFS_MINIMUM_SIZE } from './layout.js';
import { throwIfInterrupted } from '../signals.js';
import { measureTree, type TreeUsage } from './tree-usage.js';

/** Makes the file system of `size` bytes in `image`; false when the tree did not fit. */
export type SizedAttempt = (size: number, image: string) => Promise<boolean>;

const GROWTH = 1.25;
const MAX_TRIALS = 8;

/**
 * Makes `job.image` at `job.size`, or throws a UserError naming the size that would have worked.
 * When no larger size works either, the failure was not about space and the first one is thrown.
 */
export async function ensureFits(job: FileSystemJob, attempt: SizedAttempt): Promise<void> {
  const size = job.size!;
  const usage = await measureTree(job.tree);
  let firstFailure: unknown;
  if (usage.bytes < size) {
    try {
      if (await attempt(size, job.image)) return;
    } catch (error) {
      // Only a lack of space is answered with a size; any other failure is the tool's own.
      if (!isOutOfSpace(error)) throw error;
      firstFailure = error;
    }
  }
  await fs.rm(job.image, { force: true });
  const needed = await findWorkingSize(job, usage, attempt);
  if (needed === undefined) {
    throw firstFailure ?? new UserError(`could not make the ${job.fs} file system for ${job.contents} at any size`);
  }
  throw new UserError(
    `${job.contents} does not fit in ${job.sizeSetting}=${formatBytes(size)}: its ${formatBytes(usage.bytes)} of files need about ${formatBytes(needed)} as ${job.fs}`,
    { hint: `set ${job.sizeSetting}=${Math.ceil(needed / MiB)}M or more` },
  );
}

/** How mke2fs and mkfs.xfs say that the files did not fit (mkfs.btrfs grows the file instead). */
const OUT_OF_SPACE = /no space left|could not allocate|cannot allocate|error reserving space|no free space/i;

export function isOutOfSpace(error: unknown): boolean {
  return error instanceof ToolError && OUT_OF_SPACE.test(`${error.message}\n${error.stderrTail}`);
}

/** The first estimate: the files, a tenth more for metadata, and room for a journal. */
export function estimateSize(usage: TreeUsage, fsType: FileSystemJob['fs']): number {
  const estimate = alignUp(usage.bytes * 1.1 + usage.inodes * 256 + 64 * MiB);
  return fsType === 'xfs' ? Math.max(estimate, XFS_MINIMUM_SIZE) : estimate;
}

async function findWorkingSize(job: FileSystemJob, usage: TreeUsage, attempt: SizedAttempt): Promise<number | undefined> {
  const trial = path.join(job.scratch, `${job.label}.trial-image`);
  let candidate = Math.max(estimateSize(usage, job.fs), alignUp(job.size! * GROWTH));
  try {
    for (let i = 0; i < MAX_TRIALS; i++) {
      // Any failure of a trial means "not this size" — except an interrupt, which ends the search.
      const fits = await attempt(candidate, trial).catch(() => {
        throwIfInterrupted();
        return false;
      });
      if (fits) return candidate;
      candidate = alignUp(candidate * GROWTH);
    }
    return undefined;
  } finally {
    await fs.rm(trial, { force: true });
  }
}
