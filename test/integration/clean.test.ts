/**
 * `kiln clean`, as mkosi 14's: the outputs of the configuration; with -f also the incremental cache;
 * with -ff also the downloaded packages. Nothing else in the directory is touched.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sparePath } from '../../src/cache/spare.js';
import type { Config } from '../../src/config/types.js';
import { kiln, whyNotRoot } from './helpers/kiln.js';

const skip = whyNotRoot();

describe.skipIf(skip)('kiln clean', () => {
  let dir: string;
  let cache: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-clean-'));
    cache = path.join(dir, 'mkosi.cache/debian~bookworm');
    writeFileSync(path.join(dir, 'mkosi.default'), '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n[Validation]\nChecksum=yes\n');
    for (const name of ['image.tar.xz', 'SHA256SUMS', 'image.tar.xz.manifest', 'unrelated.txt']) writeFileSync(path.join(dir, name), 'x');
    mkdirSync(path.join(cache, 'roots/0123456789abcdef/root'), { recursive: true });
    mkdirSync(path.join(cache, 'packages'), { recursive: true });
    writeFileSync(path.join(cache, 'packages/less_1_amd64.deb'), 'x');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes the outputs (with the spare of the image) and nothing else', async () => {
    const spare = (output: string) => sparePath({ Output: path.join(dir, output), Cache: cache } as Config);
    mkdirSync(spare('image.tar.xz'), { recursive: true });
    mkdirSync(spare('other-image'), { recursive: true });
    const result = await kiln(['clean'], { cwd: dir });
    expect(result.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['mkosi.cache', 'mkosi.default', 'unrelated.txt']);
    expect(existsSync(spare('image.tar.xz'))).toBe(false);
    expect(existsSync(spare('other-image'))).toBe(true);
    expect(existsSync(path.join(cache, 'roots/0123456789abcdef'))).toBe(true);
    expect(existsSync(path.join(cache, 'packages/less_1_amd64.deb'))).toBe(true);
  });

  it('-f also removes the incremental cache, -ff also the packages', async () => {
    expect((await kiln(['-f', 'clean'], { cwd: dir })).status).toBe(0);
    expect(existsSync(path.join(cache, 'roots'))).toBe(false);
    expect(existsSync(path.join(cache, 'packages/less_1_amd64.deb'))).toBe(true);
    expect((await kiln(['-ff', 'clean'], { cwd: dir })).status).toBe(0);
    expect(existsSync(path.join(cache, 'packages'))).toBe(false);
    expect(existsSync(path.join(dir, 'unrelated.txt'))).toBe(true);
  });
});
