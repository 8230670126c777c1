import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadHoldingCache } from '../../../src/cache/download-lock.js';
import { lockPackageCache } from '../../../src/cache/package-cache.js';
import { CleanupStack, type BuildContext } from '../../../src/context.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-download-lock-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Only what downloadHoldingCache() reads of a build. */
function build(cleanup = new CleanupStack()): BuildContext {
  return { packageCache: path.join(dir, 'cache'), cleanup } as unknown as BuildContext;
}

function setUp(): { cache: string; downloads: string } {
  const cache = path.join(dir, 'cache');
  mkdirSync(cache);
  writeFileSync(path.join(cache, 'cached_1_all.deb'), 'cached');
  const downloads = path.join(dir, 'downloads');
  mkdirSync(downloads);
  return { cache, downloads };
}

describe('downloadHoldingCache', () => {
  it('offers the cache, and once the tool says its downloads are done publishes them and lets the next build lock the cache while the tool still runs', async () => {
    const { cache, downloads } = setUp();
    const events: string[] = [];
    await downloadHoldingCache(build(), downloads, async (downloaded) => {
      events.push(`offered ${readdirSync(downloads).join(' ')}`);
      writeFileSync(path.join(downloads, 'fetched_1_all.deb'), 'fetched');
      downloaded();
      // Another build gets the lock before this one ends: installing no longer holds it.
      const release = await lockPackageCache(cache);
      events.push(`next build locked, cache: ${readdirSync(cache).sort().join(' ')}`);
      await release();
      events.push('tool ends');
    });
    expect(events).toEqual(['offered cached_1_all.deb', 'next build locked, cache: cached_1_all.deb fetched_1_all.deb', 'tool ends']);
  });

  it('publishes at the end what a tool that never said so downloaded', async () => {
    const { cache, downloads } = setUp();
    await downloadHoldingCache(build(), downloads, async () => {
      writeFileSync(path.join(downloads, 'late_1_all.deb'), 'late');
    });
    expect(readdirSync(cache).sort()).toEqual(['cached_1_all.deb', 'late_1_all.deb']);
  });

  it('on a failure before the downloads are done, leaves the lock to the cleanup stack and publishes nothing', async () => {
    const { cache, downloads } = setUp();
    const cleanup = new CleanupStack();
    await expect(
      downloadHoldingCache(build(cleanup), downloads, async () => {
        writeFileSync(path.join(downloads, 'half_1_all.deb'), 'half');
        throw new Error('the tool failed');
      }),
    ).rejects.toThrow('the tool failed');
    expect(readdirSync(cache)).toEqual(['cached_1_all.deb']);
    // Still held: a lock attempt only succeeds once the stack unwinds.
    let locked = false;
    const next = lockPackageCache(cache).then((release) => {
      locked = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(locked).toBe(false);
    expect(await cleanup.unwind()).toEqual([]);
    await (await next)();
    expect(locked).toBe(true);
  });
});
