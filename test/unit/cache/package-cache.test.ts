import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDeb, offerCachedPackages, publishPackages, withPackageCache } from '../../../src/cache/package-cache.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-package-cache-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function files(into: string, names: Record<string, string>): string {
  mkdirSync(into, { recursive: true });
  for (const [name, content] of Object.entries(names)) writeFileSync(path.join(into, name), content);
  return into;
}

describe('the package cache', () => {
  it('publishes downloaded packages whole, keeps what it has, and leaves partial downloads out', async () => {
    const cache = files(path.join(dir, 'cache'), { 'a_1_amd64.deb': 'cached a' });
    const downloads = files(path.join(dir, 'downloads'), { 'a_1_amd64.deb': 'other a', 'b_1_amd64.deb': 'b', 'c_1_amd64.deb.part': 'half', lock: '' });
    await publishPackages(downloads, cache, isDeb, { move: true });
    expect(readdirSync(cache).sort()).toEqual(['a_1_amd64.deb', 'b_1_amd64.deb']);
    expect(readFileSync(path.join(cache, 'a_1_amd64.deb'), 'utf8')).toBe('cached a');
    expect(readdirSync(downloads).sort()).toEqual(['c_1_amd64.deb.part', 'lock']);
  });

  it('offers cached packages as links, so offering costs no copy', async () => {
    const cache = files(path.join(dir, 'cache'), { 'a_1_amd64.deb': 'a', '.a_1_amd64.deb.0badf00d': 'temporary' });
    const archives = path.join(dir, 'root/var/cache/apt/archives');
    expect(await offerCachedPackages(cache, archives, isDeb)).toBe(1);
    expect(readdirSync(archives)).toEqual(['a_1_amd64.deb']);
    expect(statSync(path.join(archives, 'a_1_amd64.deb')).ino).toBe(statSync(path.join(cache, 'a_1_amd64.deb')).ino);
  });

  it('survives two builds publishing the same packages at once', async () => {
    const cache = path.join(dir, 'cache');
    const names = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${i}_1_amd64.deb`, `package ${i}`]));
    const one = files(path.join(dir, 'one'), names);
    const two = files(path.join(dir, 'two'), names);
    await Promise.all([publishPackages(one, cache, isDeb, { move: false }), publishPackages(two, cache, isDeb, { move: false })]);
    expect(readdirSync(cache)).toHaveLength(200);
    expect(readFileSync(path.join(cache, 'p7_1_amd64.deb'), 'utf8')).toBe('package 7');
  });

  it('lets one build at a time hold the lock', async () => {
    const cache = path.join(dir, 'cache');
    const events: string[] = [];
    const hold = (name: string) =>
      withPackageCache(cache, async () => {
        events.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        events.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(events[1]).toMatch(/ out$/);
    expect(events[3]).toMatch(/ out$/);
    expect(existsSync(`${cache}.lock`)).toBe(true);
  });
});
