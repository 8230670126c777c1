/**
 * Incremental=yes: the root as it stands after the packages and the prepare script is kept in the
 * cache under a key of everything that shaped it. A later build with the same key starts from it; a
 * build that only adds packages starts from the closest cached root and installs the difference. With
 * a prepare script, the root before it is cached too, so that editing the script (or building the
 * other phase of a build script) runs only the script again, not the bootstrap.
 * The cached root is never modified: the build works on an overlay of it (or a copy, for directory
 * outputs, which are renamed into place at the end — made from the image it replaced, see spare.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { probeRepository } from '../checks.js';
import { phaseTitle, type BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { debug, step } from '../log.js';
import { getPackageManager } from '../package-managers/index.js';
import { run } from '../run.js';
import { packagesToInstall } from '../stages/install.js';
import { clampTreeTimes } from '../tree/clamp-times.js';
import { cacheInputs, cacheKey, withoutPrepare, type CacheInputs } from './key.js';
import { claimSpare, keepAsSpare, refreshSpare } from './spare.js';
import { RootCache, type CacheEntry } from './store.js';

export type CacheOutcome = 'hit' | 'extended' | 'layered' | 'miss';

function overlayOption(dir: string): string {
  // lowerdir/upperdir values are separated by ',' and ':'; escape them in our paths.
  return dir.replace(/([\\,:])/g, '\\$1');
}

async function overlayAvailable(): Promise<boolean> {
  const filesystems = await fs.readFile('/proc/filesystems', 'utf8').catch(() => '');
  return /\boverlay\b/.test(filesystems);
}

/**
 * Makes `context.root` show the cached root: an overlay mount, or a copy where a mount cannot do —
 * a directory output is renamed into place at the end, which an overlay cannot be. The development
 * image is never renamed anywhere, so it is always an overlay when the kernel has them.
 */
async function useEntry(context: BuildContext, entry: CacheEntry): Promise<void> {
  const renamed = context.config.Format === 'directory' && context.phase === 'final';
  if (renamed && (await claimSpare(context.config, context.root))) {
    const discard = path.join(context.workspace, `spare-${context.phase}`);
    if (await refreshSpare(entry.root, context.root, discard, context.config.ExtraSearchPaths)) return;
  }
  if (renamed || !(await overlayAvailable())) {
    await run(['cp', '-a', '--reflink=auto', `${entry.root}/.`, context.root], { what: 'Copying the cached root' });
    return;
  }
  // A read of the whole cached root (a Format=directory build copies it, mkfs reads it through an
  // overlay, a user runs grep -r) moved its access times past the epoch they were clamped to before it
  // was stored; clamped again through the overlay, every file would be copied up (3-20 s for a minimal
  // root). They are set back in the cached root itself (0.4 s), when its top directory shows such a read.
  const epoch = entry.inputs.sourceDateEpoch;
  if (epoch !== undefined && (await fs.stat(entry.root)).atimeMs > epoch * 1000) {
    const restored = await clampTreeTimes(entry.root, epoch);
    if (restored > 0) debug(`set the access times of ${restored} entries of the cached root ${entry.key} back to its epoch`);
  }
  // Each phase has its own overlay: the development image's is unmounted before the final one is made.
  const upper = path.join(context.workspace, `overlay-${context.phase}/upper`);
  const work = path.join(context.workspace, `overlay-${context.phase}/work`);
  await fs.mkdir(upper, { recursive: true });
  await fs.mkdir(work, { recursive: true });
  const options = `lowerdir=${overlayOption(entry.root)},upperdir=${overlayOption(upper)},workdir=${overlayOption(work)}`;
  // Registered first: an interrupt may end mount(8) after the kernel made the mount.
  context.cleanup.push('unmount the cached root overlay', () =>
    run(['umount', context.root], { what: 'Unmounting the cached root', uninterruptible: true, okCodes: [32] }).then(() => undefined),
  );
  await run(['mount', '-t', 'overlay', 'kiln-root', '-o', options, context.root], { what: 'Mounting the cached root' });
}

/** Stores the current root as a new entry without disturbing the build that keeps using it. */
async function saveCopy(cache: RootCache, context: BuildContext, key: string, inputs: CacheInputs): Promise<void> {
  // One per key: a build may store two roots (with and without its prepare script).
  const snapshot = path.join(context.workspace, `snapshot-${context.phase}-${key}`);
  await run(['cp', '-a', '--reflink=auto', context.root, snapshot], { what: 'Copying the root into the cache' });
  await cache.save(key, inputs, snapshot, { replace: context.config.Force >= 2 });
}

/** What the cache holds for a root: its key and inputs, and the entry if there is one (a hit). */
export interface Lookup {
  readonly cache: RootCache;
  readonly inputs: CacheInputs;
  readonly key: string;
  readonly hit: CacheEntry | undefined;
  /** On a hit made early (startFromCache()): `context.root` showing the entry, once it settles. */
  readonly ready?: Promise<void>;
}

/** Looks the root up under the cache's shared lock, which the build holds from here on. */
async function lookUp(context: BuildContext): Promise<Lookup> {
  const { config } = context;
  const cache = new RootCache(context.rootCache ?? config.Cache!);
  const inputs = await cacheInputs(config, packagesToInstall(context), context.phase);
  const key = await cacheKey(inputs);
  const release = await cache.useShared();
  // Released after everything else is undone (the overlay of a cached root unmounted first).
  context.cleanup.pushLock('release the root cache', async () => {
    await release();
    await cache.evict();
  });
  // -ff: rebuild the cached root (mkosi 14: "also remove the incremental cache").
  const hit = config.Force < 2 ? await cache.find(key) : undefined;
  return { cache, inputs, key, hit };
}

/**
 * With a build script, the image's root does not depend on anything the development phase makes:
 * on a cache hit it is made (copied, brought up to date from the spare, or mounted) while the
 * development image is built and its script runs, and prepareIncrementalRoot() then only waits for
 * it. A miss is left to prepareIncrementalRoot(), after the development phase, as before. The
 * caller must let the result settle before unwinding the build's cleanup.
 */
export async function startFromCache(context: BuildContext): Promise<Lookup> {
  const lookup = await lookUp(context);
  if (!lookup.hit) return lookup;
  const ready = useEntry(context, lookup.hit);
  // Awaited later (by prepareIncrementalRoot() or the caller's clean-up); until then a failure waits there.
  ready.catch(() => undefined);
  return { ...lookup, ready };
}

/**
 * The development phase failed: waits for what startFromCache() began, and gives a directory
 * output's root back as the spare rather than leave it to the workspace's removal — deleting a whole
 * tree costs seconds (spare.ts), which a failing build script should not pay.
 */
export async function abandonEarly(context: BuildContext, early: Promise<Lookup>): Promise<void> {
  const lookup = await early.catch(() => undefined);
  const started = lookup?.ready !== undefined && (await lookup.ready.then(
    () => true,
    () => false,
  ));
  if (started && context.config.Format === 'directory') await keepAsSpare(context.config, context.root);
}

/** How a root the cache does not hold is made: the stages of pipeline.ts, in groups. */
export interface RootStages {
  /** Everything up to the end of the cached root: skeleton, packages, prepare script, cached initrd. */
  readonly base: () => Promise<void>;
  /** Only up to the packages: the root cached without the prepare script. */
  readonly packages: () => Promise<void>;
  /** What follows the packages: the prepare script, a cached initrd. */
  readonly prepare: () => Promise<void>;
  /** What a root extended with more packages runs before it is cached again (a cached initrd, clamped times). */
  readonly extended: () => Promise<void>;
  /** The same for a root without the prepare script (clamped times). */
  readonly extendedLayer: () => Promise<void>;
}

/**
 * Prepares `context.root` for an incremental build. On a miss the root is made from scratch
 * (`stages.base`) and stored before the build goes on; a root extended with more packages runs
 * `stages.extended` before it is stored. With a prepare script, the root without it is cached as
 * well (fromLayer()). `early` is what startFromCache() began.
 */
export async function prepareIncrementalRoot(context: BuildContext, stages: RootStages, early?: Promise<Lookup>): Promise<CacheOutcome> {
  const { config } = context;
  const { cache, inputs, key, hit, ready } = await (early ?? lookUp(context));
  const packages = packagesToInstall(context);
  const reuse = config.Force < 2;

  if (hit) {
    await step(phaseTitle(context, `Using the cached root ${key}`), () => ready ?? useEntry(context, hit));
    context.reusedCachedRoot = true;
    return 'hit';
  }

  // One build at a time makes a root: another one making the same root now is waited for, and its
  // root used (two images of one `kiln --all`, two CI jobs on one cache).
  const making = `make the cached root ${key}`;
  context.cleanup.pushLock(making, await cache.lockKey(key));
  const madeMeanwhile = reuse ? await cache.find(key) : undefined;
  if (madeMeanwhile) {
    await context.cleanup.runNow(making);
    await step(phaseTitle(context, `Using the cached root ${key}, made by another build`), () => useEntry(context, madeMeanwhile));
    context.reusedCachedRoot = true;
    return 'hit';
  }

  const layer = withoutPrepare(inputs);
  if (layer) {
    const outcome = await fromLayer(context, { cache, inputs, key, hit }, layer, stages);
    await context.cleanup.runNow(making);
    context.reusedCachedRoot = true;
    return outcome;
  }

  // Adding packages is the only change that can be applied on top of a cached root and give the same
  // result as a fresh build; a prepare script may depend on the package set, so a root with one is
  // never extended: fromLayer() extends the root without it and runs the script again.
  const base = reuse ? await cache.closest(inputs) : undefined;
  await probeRepository(config);
  if (base) {
    await extend(context, base, packages);
    await stages.extended();
    await step(phaseTitle(context, `Saving the cached root ${key}`), () => saveCopy(cache, context, key, inputs));
    await context.cleanup.runNow(making);
    context.reusedCachedRoot = true;
    return 'extended';
  }

  await stages.base();
  await saveMoving(context, cache, key, inputs, reuse);
  await context.cleanup.runNow(making);
  context.reusedCachedRoot = true;
  return 'miss';
}

/** Makes `context.root` show `base` with the `wanted` packages it lacks installed on top. */
async function extend(context: BuildContext, base: CacheEntry, wanted: readonly string[]): Promise<void> {
  const added = wanted.filter((name) => !base.inputs.packages.includes(name));
  // Nothing to add: the root lacks only the cached initrd (the development image's root), which the
  // extension stages make.
  const title = added.length > 0 ? `Extending the cached root ${base.key} with ${added.join(', ')}` : `Starting from the cached root ${base.key}, which lacks the initrd`;
  await step(phaseTitle(context, title), async () => {
    await useEntry(context, base);
    if (added.length === 0) return;
    const manager = getPackageManager(getDistribution(context.config.Distribution).packageManager);
    await manager.installMore(context, added);
  });
}

/** Stores the root as the entry for `key` (moved there when it can be) and goes on from the entry. */
async function saveMoving(context: BuildContext, cache: RootCache, key: string, inputs: CacheInputs, reuse: boolean): Promise<void> {
  await step(phaseTitle(context, `Saving the cached root ${key}`), async () => {
    const entry = await cache.save(key, inputs, context.root, { replace: !reuse });
    // save() moves the root into the cache when it can; then the build goes on from the entry.
    if ((await fs.readdir(context.root)).length === 0) await useEntry(context, entry);
  });
}

/**
 * A root with a prepare script that the cache does not hold, made from the root without the prepare
 * script (the same packages, skeleton and settings): from the cache when it holds that, else
 * bootstrapped (or extended from one with fewer packages) and stored before the prepare script
 * runs. The caller holds the lock of `full.key`.
 *
 * Storing the root without the prepare script on a miss costs a copy of it and its room in the
 * cache: `cp -a` of a BasePackages=no Debian root (88 MB, 4,500 files) takes 0.5 s here, of a 280 MB
 * one 1.2 s, against 45 s and more for a bootstrap. It gains a bootstrap on every later edit of the
 * prepare script, its environment or WithNetwork=, and on the other phase of a build script (the
 * development image and the image run the script with another argument, so they never share the
 * full root): worth it, so it is always stored.
 */
async function fromLayer(context: BuildContext, full: Lookup, inputs: CacheInputs, stages: RootStages): Promise<CacheOutcome> {
  const { cache } = full;
  const reuse = context.config.Force < 2;
  const key = await cacheKey(inputs);
  let stored = reuse ? await cache.find(key) : undefined;
  if (!stored) {
    // Taken after the full root's lock, and a root without a prepare script never takes another:
    // builds that wait on each other always take them in this order.
    const making = `make the cached root ${key}`;
    context.cleanup.pushLock(making, await cache.lockKey(key));
    stored = reuse ? await cache.find(key) : undefined;
    if (!stored) {
      // Like any root without a prepare script, it may be made from one with fewer packages.
      const base = reuse ? await cache.closest(inputs) : undefined;
      await probeRepository(context.config);
      if (base) {
        await extend(context, base, inputs.packages);
        await stages.extendedLayer();
      } else {
        await stages.packages();
      }
      await step(phaseTitle(context, `Saving the cached root ${key} (without the prepare script)`), () => saveCopy(cache, context, key, inputs));
      await context.cleanup.runNow(making);
      await stages.prepare();
      // An extended root is a mount or a copy of the entry it came from: stored by copying it.
      if (base) await step(phaseTitle(context, `Saving the cached root ${full.key}`), () => saveCopy(cache, context, full.key, full.inputs));
      else await saveMoving(context, cache, full.key, full.inputs, reuse);
      return base ? 'extended' : 'miss';
    }
    await context.cleanup.runNow(making);
  }
  const entry = stored;
  await step(phaseTitle(context, `Using the cached root ${key} without the prepare script; running ${path.basename(context.config.PrepareScript!)}`), () =>
    useEntry(context, entry),
  );
  await stages.prepare();
  await step(phaseTitle(context, `Saving the cached root ${full.key}`), () => saveCopy(cache, context, full.key, full.inputs));
  return 'layered';
}
