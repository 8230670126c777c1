/**
 * Incremental=yes with a prepare script: the cache also keeps the root as it stands after the
 * packages, before mkosi.prepare. Editing the script runs only the script again on that root (no
 * bootstrap) and gives the new script's result; a change of the packages never uses it.
 *
 * A minimal project (BasePackages=no) with a prepare script has, without the script, the minimal
 * root every minimal project shares: a copy of it is this file's root without the prepare script.
 * The one bootstrap here is the package change's.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, whyNotRoot } from './helpers/kiln.js';
import { cacheWithMinimalRoot, ROOTS } from './helpers/private-cache.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn']);

const PREPARE = (text: string) => `#!/bin/sh\nset -e\necho "${text} $1" > /etc/kiln-prepared\n`;
const BOOTSTRAP = /^‣ Installing packages /m;
const LAYERED = /^‣ Using the cached root ([0-9a-f]{16}) without the prepare script; running mkosi\.prepare /m;

describe.skipIf(skip)('the cached root without the prepare script', () => {
  let dir: string;
  let cache: string;
  let minimalKey: string;
  const prepared = () => readFileSync(path.join(dir, 'image/etc/kiln-prepared'), 'utf8');
  const layer = (key: string) => path.join(cache, ROOTS, key, 'root');
  const build = async (...args: string[]) => {
    const result = await kiln(['--cache', cache, '-i', '-f', ...args, 'build'], { cwd: dir });
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    return result.stderr;
  };

  beforeAll(async () => {
    ({ cache, minimalKey } = await cacheWithMinimalRoot('kiln-prepare-cache-'));
    dir = minimalProject();
    writeScript(dir, 'mkosi.prepare', PREPARE('one'));
  });

  afterAll(() => {
    for (const d of [dir, cache]) rmSync(d, { recursive: true, force: true });
  });

  it('runs only the prepare script on the root without it, again after the script is edited', async () => {
    let stderr = await build();
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(LAYERED.exec(stderr)?.[1]).toBe(minimalKey);
    expect(prepared()).toBe('one final\n');

    writeScript(dir, 'mkosi.prepare', PREPARE('two'));
    stderr = await build();
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(LAYERED.exec(stderr)?.[1]).toBe(minimalKey);
    expect(prepared()).toBe('two final\n');
    // The script ran on a copy: the root without it is as it was.
    expect(existsSync(path.join(layer(minimalKey), 'etc/kiln-prepared'))).toBe(false);

    // The result was stored under the full key: the next build neither bootstraps nor prepares.
    stderr = await build();
    expect(stderr).toMatch(/^‣ Using the cached root [0-9a-f]{16} \(/m);
    expect(stderr).not.toMatch(LAYERED);
    expect(stderr).not.toContain('Running the prepare script');
    expect(prepared()).toBe('two final\n');
  });

  it('never uses the root without the prepare script of other packages, and keeps the new one', async () => {
    let stderr = await build('--package=hello');
    expect(stderr).toMatch(BOOTSTRAP);
    expect(stderr).not.toMatch(LAYERED);
    const stored = /^‣ Saving the cached root ([0-9a-f]{16}) \(without the prepare script\)/m.exec(stderr)?.[1];
    expect(stored).toBeDefined();
    expect(stored).not.toBe(minimalKey);
    expect(existsSync(path.join(dir, 'image/usr/bin/hello'))).toBe(true);
    expect(prepared()).toBe('two final\n');
    expect(existsSync(path.join(layer(stored!), 'usr/bin/hello'))).toBe(true);
    expect(existsSync(path.join(layer(stored!), 'etc/kiln-prepared'))).toBe(false);

    // The next edit of the script starts from the root this bootstrap stored.
    writeScript(dir, 'mkosi.prepare', PREPARE('three'));
    stderr = await build('--package=hello');
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(LAYERED.exec(stderr)?.[1]).toBe(stored);
    expect(prepared()).toBe('three final\n');
    expect(existsSync(path.join(dir, 'image/usr/bin/hello'))).toBe(true);
  });
});
