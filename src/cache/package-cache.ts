/**
 * The package cache (`<Cache>/packages/`), shared by every build of the same distribution and
 * release — by concurrent builds too (`kiln --all`, or two `kiln build` on one cache directory).
 *
 * Two rules keep it safe:
 * - A file appears in the cache only whole: it is linked in, or copied under a temporary name and
 *   renamed into place, and never changed afterwards. A build reading the cache never sees half a
 *   package, and a killed build leaves at most a temporary name (`.NAME.XXXXXXXX`) that nothing
 *   reads. Package managers that download straight into the cache (dnf, whose own locks do not
 *   work across PID namespaces; the scripts' apt) do it holding the lock.
 * - The lock (`<cache>.lock`) is also held while a build downloads into a directory of its own and
 *   publishes what it fetched (mmdebstrap, debootstrap, apt-get: download-lock.ts): a build that
 *   starts meanwhile waits, then finds the packages in the cache instead of downloading them a
 *   second time.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import type { CleanupStack } from '../context.js';
import { acquireLock, withLock, type Release } from '../lock.js';

/** Which files of a download directory are packages (and their signatures) worth keeping. */
export type PackageFilter = (name: string) => boolean;

export const isDeb: PackageFilter = (name) => name.endsWith('.deb') && !name.startsWith('.');

/** The lock file of a package cache directory. */
export function packageCacheLock(cache: string): string {
  return `${cache.replace(/\/+$/, '')}.lock`;
}

/** Takes the package cache's lock, waiting for the build that holds it. */
export async function lockPackageCache(cache: string): Promise<Release> {
  const release = await acquireLock(packageCacheLock(cache), 'the package cache');
  if (!release) throw new Error(`internal: could not lock ${cache}`);
  return release;
}

/**
 * Runs `work` holding the package cache's lock. Given the build's cleanup stack, a failure or an
 * interrupt leaves the lock to the unwinding, which releases it only after the build's processes
 * are gone and its mounts undone (a dying dpkg may still write into the cache).
 */
export async function withPackageCache<T>(cache: string, work: () => Promise<T>, cleanup?: CleanupStack): Promise<T> {
  if (cleanup) return withLock(cleanup, packageCacheLock(cache), 'the package cache', work);
  const release = await lockPackageCache(cache);
  try {
    return await work();
  } finally {
    await release();
  }
}

async function filesIn(dir: string, accept: PackageFilter): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isFile() && accept(entry.name)).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Puts `source` at `target` whole: a hard link where possible, else a copy renamed into place. */
async function placeAtomically(source: string, target: string, move: boolean): Promise<void> {
  try {
    await fs.link(source, target);
    if (move) await fs.unlink(source);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Already there: packages of one name and version are the same file (the repository says so).
    if (code === 'EEXIST') {
      if (move) await fs.unlink(source);
      return;
    }
    if (code !== 'EXDEV' && code !== 'EPERM') throw error;
  }
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}`);
  try {
    await fs.copyFile(source, temporary, fs.constants.COPYFILE_FICLONE);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
  if (move) await fs.unlink(source);
}

/** A cache holds hundreds of packages; a bounded number of file operations at a time avoids EMFILE. */
async function placeAll(names: readonly string[], from: string, to: string, move: boolean): Promise<void> {
  const queue = new PQueue({ concurrency: 32 });
  await queue.addAll(names.map((name) => () => placeAtomically(path.join(from, name), path.join(to, name), move)));
}

/** Offers the cached packages to a package manager by linking them into its download directory. */
export async function offerCachedPackages(cache: string, into: string, accept: PackageFilter): Promise<number> {
  const names = await filesIn(cache, accept);
  await fs.mkdir(into, { recursive: true });
  await placeAll(names, cache, into, false);
  return names.length;
}

/**
 * Puts what a build downloaded into the cache (files the cache has already are left alone). With
 * `move`, the downloads leave `from`; otherwise they stay where the package manager expects them.
 */
export async function publishPackages(from: string, cache: string, accept: PackageFilter, options: { move: boolean }): Promise<number> {
  const names = await filesIn(from, accept);
  if (names.length === 0) return 0;
  await fs.mkdir(cache, { recursive: true });
  await placeAll(names, from, cache, options.move);
  return names.length;
}
