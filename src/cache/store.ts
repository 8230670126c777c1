/**
 * Cached roots under `<Cache>/roots/<key>/` (the tree in `root/`, its inputs in `inputs.json`).
 * An entry appears atomically: it is assembled under a temporary name and renamed into place, so a
 * killed build never leaves half an entry and two builds making the same entry cannot collide. A
 * build using an entry holds a shared lock; entries are only deleted under the exclusive lock.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, type Release } from '../lock.js';
import { debug } from '../log.js';
import { run } from '../run.js';
import { canonicalJson, extendsTo, type CacheInputs } from './key.js';
import { KEEP_SPARES, SPARE_PREFIX } from './spare.js';

export interface CacheEntry {
  readonly key: string;
  readonly dir: string;
  readonly root: string;
  readonly inputs: CacheInputs;
}

/**
 * How many cached roots a cache directory keeps: the 6 used last, and besides them every root used
 * within a day, up to 24 (least recently used go first). A plain limit of 6 made `kiln --all` of
 * more images than that on one cache evict, each run, the roots the next images of the same run
 * needed — every image bootstrapped again, every day. The day bounds the disk that a morning of
 * editing mkosi.prepare (a new root per edit) can fill.
 */
export const KEEP_ENTRIES = 6;
export const KEEP_RECENT_ENTRIES = 24;
export const RECENT_MS = 24 * 3600_000;

async function readEntry(base: string, key: string): Promise<CacheEntry | undefined> {
  const dir = path.join(base, key);
  try {
    const inputs = JSON.parse(await fs.readFile(path.join(dir, 'inputs.json'), 'utf8')) as CacheInputs;
    return { key, dir, root: path.join(dir, 'root'), inputs };
  } catch {
    return undefined;
  }
}

export class RootCache {
  readonly base: string;

  constructor(cacheDirectory: string) {
    this.base = path.join(cacheDirectory, 'roots');
  }

  /** Held while this build uses cached roots, so that no other build deletes them meanwhile. */
  async useShared(): Promise<Release> {
    const release = await acquireLock(path.join(this.base, '.lock'), 'the root cache', { shared: true });
    if (!release) throw new Error('internal: a shared lock was refused');
    return release;
  }

  /**
   * Held while a build makes the entry for `key`: a second build wanting the same root waits and
   * then uses it, instead of bootstrapping the same root at the same time.
   */
  async lockKey(key: string): Promise<Release> {
    const release = await acquireLock(path.join(this.base, `.${key}.lock`), `the cached root ${key}`);
    if (!release) throw new Error('internal: a blocking lock was refused');
    return release;
  }

  async find(key: string): Promise<CacheEntry | undefined> {
    const entry = await readEntry(this.base, key);
    if (entry) await fs.utimes(entry.dir, new Date(), new Date()).catch(() => undefined);
    return entry;
  }

  /**
   * The cached root this one can be made from by installing more packages: same inputs otherwise,
   * a subset of the packages, as many of them as possible.
   */
  async closest(inputs: CacheInputs): Promise<CacheEntry | undefined> {
    let best: CacheEntry | undefined;
    for (const key of await this.keys()) {
      const entry = await readEntry(this.base, key);
      if (!entry || !extendsTo(entry.inputs, inputs)) continue;
      if (!best || entry.inputs.packages.length > best.inputs.packages.length) best = entry;
    }
    return best;
  }

  /**
   * Stores `root` as the entry for `key`: moved when it is on the cache's file system (the caller
   * then works on an overlay or copy of the entry), copied otherwise. Returns the entry. An entry
   * another build stored meanwhile is kept (it was made from the same inputs) unless `replace`.
   */
  async save(key: string, inputs: CacheInputs, root: string, options: { replace?: boolean } = {}): Promise<CacheEntry> {
    await fs.mkdir(this.base, { recursive: true });
    const stored = options.replace ? undefined : await readEntry(this.base, key);
    if (stored) {
      debug(`another build stored ${key} first; keeping that one`);
      return stored;
    }
    const temporary = path.join(this.base, `.new-${key}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(temporary);
    try {
      await fs.writeFile(path.join(temporary, 'inputs.json'), `${canonicalJson(inputs)}\n`);
      try {
        await fs.rename(root, path.join(temporary, 'root'));
        await fs.mkdir(root);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await run(['cp', '-a', '--reflink=auto', root, path.join(temporary, 'root')], { what: 'Saving the root in the cache' });
      }
      const target = path.join(this.base, key);
      const previous = options.replace ? await readEntry(this.base, key) : undefined;
      if (previous) {
        // -ff rebuilt an existing entry: the old one may be in use, so it is only renamed here and
        // deleted by the next eviction, which waits for every user.
        await fs.rename(previous.dir, path.join(this.base, `.old-${key}-${randomBytes(4).toString('hex')}`));
      }
      try {
        await fs.rename(temporary, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        debug(`another build stored ${key} first; using that one`);
        await run(['rm', '-rf', '--one-file-system', temporary], { what: 'Removing a duplicate cache entry', uninterruptible: true });
      }
      return (await readEntry(this.base, key))!;
    } catch (error) {
      await run(['rm', '-rf', '--one-file-system', temporary], { what: 'Removing a half-made cache entry', uninterruptible: true });
      throw error;
    }
  }

  /** Entries by key. */
  async keys(): Promise<string[]> {
    try {
      return (await fs.readdir(this.base)).filter((name) => /^[0-9a-f]{16}$/.test(name));
    } catch {
      return [];
    }
  }

  /** What eviction would delete now: leftovers, entries beyond `keep` (see KEEP_ENTRIES), spares beyond KEEP_SPARES. */
  async #doomed(keep: number): Promise<string[]> {
    const names = await fs.readdir(this.base).catch(() => [] as string[]);
    const stale = names.filter((name) => name.startsWith('.old-') || name.startsWith('.new-'));
    const stored = async (name: string) => ({ name, time: (await fs.stat(path.join(this.base, name))).mtimeMs });
    const newestFirst = (a: { time: number }, b: { time: number }) => b.time - a.time;
    const entries = (await Promise.all((await this.keys()).map(stored))).sort(newestFirst);
    const spares = (await Promise.all(names.filter((name) => name.startsWith(SPARE_PREFIX)).map(stored))).sort(newestFirst);
    // An evicted entry's key lock goes with it: nobody waits on it while eviction holds the cache.
    const recent = Date.now() - RECENT_MS;
    const kept = (entry: { time: number }, index: number): boolean => index < keep || (entry.time >= recent && index < Math.max(keep, KEEP_RECENT_ENTRIES));
    const evicted = entries.filter((entry, index) => !kept(entry, index)).flatMap((entry) => [entry.name, `.${entry.name}.lock`]);
    return [...stale, ...evicted, ...spares.slice(KEEP_SPARES).map((spare) => spare.name)];
  }

  /**
   * Deletes leftovers, all but the most recently used entries and all but the most recently stored
   * spares (spare.ts) — only when no other build holds the cache (it never waits for them). When
   * there is nothing to delete it takes no lock: that costs a process at the end of every build.
   */
  async evict(keep = KEEP_ENTRIES): Promise<void> {
    if ((await this.#doomed(keep).catch(() => [])).length === 0) return;
    const release = await acquireLock(path.join(this.base, '.lock'), 'the root cache', { nonBlocking: true });
    if (!release) return;
    try {
      for (const name of await this.#doomed(keep)) {
        await run(['rm', '-rf', '--one-file-system', path.join(this.base, name)], { what: 'Evicting a cached root', uninterruptible: true });
      }
    } finally {
      await release();
    }
  }
}
