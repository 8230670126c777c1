import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheInputs } from '../../../src/cache/key.js';
import { RootCache } from '../../../src/cache/store.js';

const base: CacheInputs = {
  kiln: '0', distribution: 'debian', release: 'bookworm', architecture: 'x86_64', mirror: 'm', localMirror: null,
  repositories: [], repositoryDirectory: null, useHostRepositories: false, repositoryKeyCheck: true, bootstrapper: 'mmdebstrap', withDocs: false, packages: ['a'],
  skeletonTrees: [], prepareScript: null, prepareArgument: null, prepareEnvironment: null, prepareNetwork: null, initrd: null,
};

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-store-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeRoot(marker: string): string {
  const root = mkdtempSync(path.join(dir, 'root-'));
  writeFileSync(path.join(root, 'marker'), marker);
  return root;
}

describe('RootCache', () => {
  it('stores a root under its key, moving it when it can', async () => {
    const cache = new RootCache(dir);
    const root = makeRoot('first');
    const entry = await cache.save('0123456789abcdef', base, root);
    expect(readFileSync(path.join(entry.root, 'marker'), 'utf8')).toBe('first');
    expect(readdirSync(root)).toEqual([]);
    expect((await cache.find('0123456789abcdef'))?.inputs).toEqual(base);
  });

  it('keeps the first of two builds that store the same key', async () => {
    const cache = new RootCache(dir);
    await Promise.all([cache.save('0123456789abcdef', base, makeRoot('a')), cache.save('0123456789abcdef', base, makeRoot('b'))]);
    expect(await cache.keys()).toEqual(['0123456789abcdef']);
    expect(readdirSync(cache.base).filter((name) => name.startsWith('.new-'))).toEqual([]);
  });

  it('never shows a half-made entry, and eviction removes it', async () => {
    const cache = new RootCache(dir);
    mkdirSync(path.join(cache.base, '.new-0123456789abcdef-dead'), { recursive: true });
    expect(await cache.find('0123456789abcdef')).toBeUndefined();
    await cache.evict();
    expect(existsSync(path.join(cache.base, '.new-0123456789abcdef-dead'))).toBe(false);
  });

  it('finds the closest root to extend: same inputs, fewest missing packages', async () => {
    const cache = new RootCache(dir);
    await cache.save('000000000000000a', { ...base, packages: ['a'] }, makeRoot('a'));
    await cache.save('00000000000000ab', { ...base, packages: ['a', 'b'] }, makeRoot('ab'));
    await cache.save('00000000000000ax', { ...base, packages: ['a', 'x'] }, makeRoot('ax'));
    await cache.save('0000000000000abt', { ...base, release: 'trixie', packages: ['a', 'b'] }, makeRoot('t'));
    expect((await cache.closest({ ...base, packages: ['a', 'b', 'c'] }))?.key).toBe('00000000000000ab');
    expect(await cache.closest({ ...base, packages: ['c'] })).toBeUndefined();
  });

  it('extends a root without the cached initrd into one with it, never the other way or across initrds', async () => {
    const cache = new RootCache(dir);
    const initrd = { hostonly: false, filesystem: null, esp: true, verity: false, dropins: {} };
    await cache.save('000000000000000a', { ...base, packages: ['a'] }, makeRoot('a'));
    expect((await cache.closest({ ...base, packages: ['a'], initrd }))?.key).toBe('000000000000000a');
    await cache.save('00000000000000ab', { ...base, packages: ['a', 'b'], initrd }, makeRoot('ab'));
    expect((await cache.closest({ ...base, packages: ['a', 'b'], initrd: null }))?.key).toBe('000000000000000a');
    expect((await cache.closest({ ...base, packages: ['a', 'b'], initrd: { ...initrd, hostonly: true } }))?.key).toBe('000000000000000a');
    expect((await cache.closest({ ...base, packages: ['a', 'b', 'c'], initrd }))?.key).toBe('00000000000000ab');
  });

  it('keeps every root used within a day, up to 24, and evicts the least recently used of the rest', async () => {
    const cache = new RootCache(dir);
    const hour = 3600_000;
    const store = async (index: number, usedAgo: number): Promise<string> => {
      const key = index.toString(16).padStart(16, '0');
      await cache.save(key, { ...base, packages: [String(index)] }, makeRoot(String(index)));
      const used = new Date(Date.now() - usedAgo);
      utimesSync(path.join(cache.base, key), used, used);
      return key;
    };
    // 26 roots used in the last hours (a kiln --all run of 26 images), 4 used days ago.
    const recent = [];
    for (let i = 0; i < 26; i++) recent.push(await store(i, (i + 1) * 60_000));
    const old = [];
    for (let i = 0; i < 4; i++) old.push(await store(100 + i, (48 + i) * hour));
    await cache.evict(6);
    expect((await cache.keys()).sort()).toEqual(recent.slice(0, 24).sort());
    // A day later the same roots are old: the 6 used last stay.
    for (const [index, key] of recent.slice(0, 24).entries()) {
      const used = new Date(Date.now() - 25 * hour - index * 60_000);
      utimesSync(path.join(cache.base, key), used, used);
    }
    await cache.evict(6);
    expect((await cache.keys()).sort()).toEqual(recent.slice(0, 6).sort());
    expect(old.filter((key) => existsSync(path.join(cache.base, key)))).toEqual([]);
  });

  it('evicts the least recently used entries beyond the limit', async () => {
    const cache = new RootCache(dir);
    for (let i = 0; i < 4; i++) {
      const key = `000000000000000${i}`;
      await cache.save(key, { ...base, packages: [String(i)] }, makeRoot(String(i)));
      utimesSync(path.join(cache.base, key), new Date(1000 * (i + 1)), new Date(1000 * (i + 1)));
    }
    await cache.find('0000000000000000');
    await cache.evict(2);
    expect((await cache.keys()).sort()).toEqual(['0000000000000000', '0000000000000003']);
  });
});

describe('RootCache.save of a key that is already stored', () => {
  it('keeps the stored entry and leaves the new root alone, unless told to replace it (-ff)', async () => {
    const cache = new RootCache(dir);
    await cache.save('0123456789abcdef', base, makeRoot('first'));
    const second = makeRoot('second');
    const kept = await cache.save('0123456789abcdef', base, second);
    expect(readFileSync(path.join(kept.root, 'marker'), 'utf8')).toBe('first');
    expect(readFileSync(path.join(second, 'marker'), 'utf8')).toBe('second');
    const replaced = await cache.save('0123456789abcdef', base, second, { replace: true });
    expect(readFileSync(path.join(replaced.root, 'marker'), 'utf8')).toBe('second');
    expect(readdirSync(cache.base).filter((name) => name.startsWith('.old-'))).toHaveLength(1);
  });
});
