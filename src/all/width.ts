/**
 * How many images `kiln --all` builds at once: one per core (a build keeps about one core busy
 * while dpkg, pacman or dnf install, and waits for the network in between), and no more than the
 * available memory carries — a build with its package manager, compressor and page cache takes
 * about a gigabyte; a disk whose tree goes into a tmpfs reserves that memory on its own
 * (memory-root.ts) and otherwise builds on disk. --jobs=N sets the width.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { UserError } from '../errors.js';
import { availableMemory } from '../memory-root.js';

const GiB = 1024 ** 3;
/** What one build needs besides a tmpfs for its tree. */
export const MEMORY_PER_BUILD = GiB;

export function defaultWidth(images: number, cores: number, memory: number | undefined): number {
  const byMemory = memory === undefined ? cores : Math.floor(memory / MEMORY_PER_BUILD);
  return Math.max(1, Math.min(images, cores, byMemory));
}

export function queueWidth(images: number, jobs: string | undefined): number {
  if (jobs !== undefined) {
    const width = Number(jobs);
    if (!Number.isInteger(width) || width < 1) throw new UserError(`--jobs=${jobs}: expected a whole number of builds at once, 1 or more`);
    return Math.min(width, images);
  }
  const meminfo = (() => {
    try {
      return readFileSync('/proc/meminfo', 'utf8');
    } catch {
      return '';
    }
  })();
  return defaultWidth(images, os.availableParallelism(), availableMemory(meminfo));
}
