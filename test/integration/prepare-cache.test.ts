/**
 * Incremental=yes with a prepare script: the cache also keeps the root as it stands after the
 * packages, before mkosi.prepare. Editing the script runs only the script again on that root (no
 * bootstrap) and gives the new script's result; a change of the packages never uses it as it is.
 *
 * A minimal project (BasePackages=no) with a prepare script has, without the script, the minimal
 * root every minimal project shares: a copy of it is this file's root without the prepare script.
 * Nothing here bootstraps.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, whyNotRoot } from './helpers/kiln.js';
import { cacheWithMinimalRoot, ROOTS } from './helpers/private-cache.js';
import { minimalProject, writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn']);

// What the script saw of the packages: whether hello (--package=hello) was installed before it ran.
const PREPARE = (text: string) => `#!/bin/sh\nset -e\necho "${text} $1 $(command -v hello || echo none)" > /etc/kiln-prepared\n`;
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
    expect(prepared()).toBe('one final none\n');

    writeScript(dir, 'mkosi.prepare', PREPARE('two'));
    stderr = await build();
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(LAYERED.exec(stderr)?.[1]).toBe(minimalKey);
    expect(prepared()).toBe('two final none\n');
    // The script ran on a copy: the root without it is as it was.
    expect(existsSync(path.join(layer(minimalKey), 'etc/kiln-prepared'))).toBe(false);

    // The result was stored under the full key: the next build neither bootstraps nor prepares.
    stderr = await build();
    expect(stderr).toMatch(/^‣ Using the cached root [0-9a-f]{16} \(/m);
    expect(stderr).not.toMatch(LAYERED);
    expect(stderr).not.toContain('Running the prepare script');
    expect(prepared()).toBe('two final none\n');
  });

  it('never uses the root without the prepare script of other packages as it is', async () => {
    // Adding a package extends that root (as a root without a prepare script would be), stores it
    // under its own key, and runs the script on it.
    let stderr = await build('--package=hello');
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(stderr).not.toMatch(LAYERED);
    expect(stderr).toMatch(new RegExp(`^‣ Extending the cached root ${minimalKey} with hello `, 'm'));
    const stored = /^‣ Saving the cached root ([0-9a-f]{16}) \(without the prepare script\)/m.exec(stderr)?.[1];
    expect(stored).toBeDefined();
    expect(stored).not.toBe(minimalKey);
    expect(prepared()).toBe('two final /usr/bin/hello\n');
    expect(existsSync(path.join(layer(stored!), 'usr/bin/hello'))).toBe(true);
    expect(existsSync(path.join(layer(stored!), 'etc/kiln-prepared'))).toBe(false);
    expect(existsSync(path.join(layer(minimalKey), 'usr/bin/hello'))).toBe(false);

    // The next edit of the script starts from the root this build stored.
    writeScript(dir, 'mkosi.prepare', PREPARE('three'));
    stderr = await build('--package=hello');
    expect(stderr).not.toMatch(BOOTSTRAP);
    expect(LAYERED.exec(stderr)?.[1]).toBe(stored);
    expect(prepared()).toBe('three final /usr/bin/hello\n');

    // Without the package again, the first root serves as it is: hello is gone.
    stderr = await build();
    expect(LAYERED.exec(stderr)?.[1]).toBe(minimalKey);
    expect(prepared()).toBe('three final none\n');
    expect(existsSync(path.join(dir, 'image/usr/bin/hello'))).toBe(false);
  });
});
