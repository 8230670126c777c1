/**
 * A cache of a test file's own, for files that count what the root cache does (entries, bootstraps,
 * extensions) and must not fill the shared one: it gets the shared downloads (hard links) and a
 * real copy of the minimal root every minimal project shares (BasePackages=no, no prepare script).
 * That root is made in TEST_CACHE by the first file that needs it; a build of a minimal project
 * names its key.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CACHED, kilnOk, TEST_CACHE } from './kiln.js';
import { minimalProject } from './projects.js';

export const ROOTS = 'debian~bookworm/roots';

/** The new cache, and the key of the minimal root in it. */
export async function cacheWithMinimalRoot(prefix: string): Promise<{ cache: string; minimalKey: string }> {
  const cache = mkdtempSync(path.join(os.tmpdir(), prefix));
  execFileSync('sh', ['-c', `mkdir -p "${cache}/debian~bookworm" && cp -al "${TEST_CACHE}/debian~bookworm/packages" "${cache}/debian~bookworm/" 2>/dev/null || true`]);
  const seed = minimalProject({ format: 'tar', output: 'CompressOutput=no' });
  try {
    const { stderr } = await kilnOk([...CACHED, 'build'], { cwd: seed });
    const minimalKey = /(?:Using|Saving) the cached root ([0-9a-f]{16})/.exec(stderr)?.[1];
    if (!minimalKey) throw new Error(`no cached root named in:\n${stderr}`);
    mkdirSync(path.join(cache, ROOTS), { recursive: true });
    // A real copy, not links: nothing the test does may reach the shared root.
    execFileSync('cp', ['-a', '--reflink=auto', path.join(TEST_CACHE, ROOTS, minimalKey), path.join(cache, ROOTS, minimalKey)]);
    return { cache, minimalKey };
  } finally {
    rmSync(seed, { recursive: true, force: true });
  }
}
