/**
 * The package cache's lock is held while a build downloads, not while it installs: installing takes
 * minutes (dpkg, maintainer scripts), and every build on the same cache — `kiln --all`, CI jobs
 * sharing a cache directory — would wait that long for packages that are already there.
 *
 * The package manager works on a download directory of the build's own, offered the cached packages
 * as hard links. When it says its downloads are done (a hook, or a line of its output), what it
 * fetched is published into the cache and the lock goes to the next build, which then downloads
 * nothing twice; this build goes on installing from its own directory.
 */
import type { BuildContext } from '../context.js';
import type { Release } from '../lock.js';
import { isDeb, lockPackageCache, offerCachedPackages, publishPackages } from './package-cache.js';

/**
 * Runs `work` holding the package cache's lock until it calls `downloaded()` (or ends). A tool that
 * never says so keeps the lock to its end, and its downloads are published then. On a failure or an
 * interrupt the lock is left to the build's cleanup stack, which releases it only after the build's
 * processes are gone (a dying tool may still be writing).
 */
export async function downloadHoldingCache(context: BuildContext, downloads: string, work: (downloaded: () => void) => Promise<unknown>): Promise<void> {
  const cache = context.packageCache;
  let release: Release | undefined = await lockPackageCache(cache);
  const handOver = async (): Promise<void> => {
    try {
      await publishPackages(downloads, cache, isDeb, { move: false });
    } finally {
      const releasing = release;
      release = undefined;
      await releasing?.();
    }
  };
  let handing: Promise<void> | undefined;
  let failed = true;
  try {
    await offerCachedPackages(cache, downloads, isDeb);
    await work(() => {
      handing ??= handOver();
    });
    await (handing ??= handOver());
    failed = false;
  } finally {
    await handing?.catch(() => undefined);
    const held = release;
    release = undefined;
    if (held && failed) context.cleanup.pushLock(`unlock the package cache (${cache})`, held);
    else await held?.();
  }
}
