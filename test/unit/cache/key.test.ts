/**
 * The incremental cache key must change for every input that shapes the cached root, and for
 * nothing else: a stale root is a wrong image (mkosi 14's silent failure), a needless miss costs a
 * full bootstrap.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheInputs, cacheKey, digestTree, extendsTo, sameExceptPackages, withoutPrepare, type CacheInputs } from '../../../src/cache/key.js';
import type { Assignment } from '../../../src/config/assign.js';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';
import type { SettingName } from '../../../src/config/types.js';
import { packagesToInstall } from '../../../src/stages/install.js';

const host: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'http://127.0.0.1/debian', kvm: false };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-key-'));
  writeFileSync(path.join(dir, 'mkosi.default'), '[Distribution]\nDistribution=debian\n[Content]\nPackages=less,vim\n');
  mkdirSync(path.join(dir, 'mkosi.skeleton/etc'), { recursive: true });
  writeFileSync(path.join(dir, 'mkosi.skeleton/etc/skeleton'), 'one\n');
  mkdirSync(path.join(dir, 'mkosi.extra/etc'), { recursive: true });
  writeFileSync(path.join(dir, 'mkosi.extra/etc/extra'), 'extra\n');
  writeFileSync(path.join(dir, 'mkosi.prepare'), '#!/bin/sh\necho prepare\n', { mode: 0o755 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The cache inputs of the root a build with `settings` makes, in the image ("final") or the development image ("build"). */
async function inputsFor(settings: Partial<Record<SettingName, string>> = {}, phase: 'build' | 'final' = 'final'): Promise<CacheInputs> {
  const commandLine: Assignment[] = Object.entries(settings).map(([name, raw]) => ({
    name: name as SettingName,
    raw,
    invert: false,
    origin: { file: 'command line' },
    spelling: `--${name}`,
  }));
  const { config } = loadConfig({ directory: dir, commandLine, host, env: { PATH: '/usr/bin:/bin', SECRET: 'a' }, cwd: dir });
  return cacheInputs(config, packagesToInstall({ config, phase }), phase);
}

async function keyFor(settings: Partial<Record<SettingName, string>> = {}): Promise<string> {
  return cacheKey(await inputsFor(settings));
}

/** The key of the development image of a build script (phase "build"). */
async function developmentKeyFor(settings: Partial<Record<SettingName, string>> = {}): Promise<string> {
  return cacheKey(await inputsFor(settings, 'build'));
}

describe('the incremental cache key', () => {
  it('is a stable 16-digit xxhash', async () => {
    const key = await keyFor();
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(await keyFor()).toBe(key);
  });

  it.each([
    ['Distribution', { Distribution: 'ubuntu', Mirror: 'http://127.0.0.1/debian' }],
    ['Release', { Release: 'trixie' }],
    ['Architecture', { Architecture: 'aarch64' }],
    ['Mirror', { Mirror: 'http://127.0.0.2/debian' }],
    ['LocalMirror', { LocalMirror: 'file:///srv/mirror' }],
    ['Repositories', { Repositories: 'main,contrib' }],
    ['RepositoryKeyCheck', { RepositoryKeyCheck: 'no' }],
    ['Bootstrapper', { Bootstrapper: 'debootstrap' }],
    ['WithDocs', { WithDocs: 'yes' }],
    ['Packages', { Packages: 'htop' }],
    ['BasePackages', { BasePackages: 'no' }],
    ['Environment (seen by the prepare script)', { Environment: 'FOO=bar' }],
    ['WithNetwork (for the prepare script)', { WithNetwork: 'yes' }],
  ] as const)('changes with %s', async (_label, settings) => {
    expect(await keyFor(settings as Partial<Record<SettingName, string>>)).not.toBe(await keyFor());
  });

  it('changes with the skeleton tree: content, mode, new files, link targets', async () => {
    const keys = new Set([await keyFor()]);
    writeFileSync(path.join(dir, 'mkosi.skeleton/etc/skeleton'), 'two\n');
    keys.add(await keyFor());
    chmodSync(path.join(dir, 'mkosi.skeleton/etc/skeleton'), 0o600);
    keys.add(await keyFor());
    writeFileSync(path.join(dir, 'mkosi.skeleton/etc/new'), '');
    keys.add(await keyFor());
    symlinkSync('skeleton', path.join(dir, 'mkosi.skeleton/etc/link'));
    keys.add(await keyFor());
    rmSync(path.join(dir, 'mkosi.skeleton/etc/link'));
    symlinkSync('new', path.join(dir, 'mkosi.skeleton/etc/link'));
    keys.add(await keyFor());
    expect(keys.size).toBe(6);
  });

  it('changes with the content of RepositoryDirectory= and with UseHostRepositories=', async () => {
    const repos = path.join(dir, 'mkosi.reposdir');
    mkdirSync(repos);
    writeFileSync(path.join(repos, 'extra.list'), 'deb [trusted=yes] http://127.0.0.1/one ./\n');
    const keys = new Set([await keyFor()]);
    writeFileSync(path.join(repos, 'extra.list'), 'deb [trusted=yes] http://127.0.0.1/two ./\n');
    keys.add(await keyFor());
    keys.add(await keyFor({ Distribution: 'fedora', Release: '38', UseHostRepositories: 'yes' }));
    keys.add(await keyFor({ Distribution: 'fedora', Release: '38' }));
    expect(keys.size).toBe(4);
  });

  it('changes with the prepare script', async () => {
    const before = await keyFor();
    writeFileSync(path.join(dir, 'mkosi.prepare'), '#!/bin/sh\necho prepared differently\n');
    expect(await keyFor()).not.toBe(before);
  });

  it('changes with kiln\'s version', async () => {
    const inputs = await inputsFor();
    expect(await cacheKey({ ...inputs, kiln: `${inputs.kiln}-next` })).not.toBe(await cacheKey(inputs));
  });

  it('does not change with what is applied after the cached root', async () => {
    const key = await keyFor();
    writeFileSync(path.join(dir, 'mkosi.extra/etc/extra'), 'edited\n');
    writeFileSync(path.join(dir, 'mkosi.postinst'), '#!/bin/sh\ntrue\n', { mode: 0o755 });
    expect(await keyFor({ Hostname: 'other', Format: 'tar', Checksum: 'yes', Password: 'secret', ImageId: 'x' })).toBe(key);
    expect(await keyFor({ Packages: '!*,vim,less' })).toBe(key);
  });

  it('without a prepare script, ignores what only the prepare script would see', async () => {
    rmSync(path.join(dir, 'mkosi.prepare'));
    expect(await keyFor({ Environment: 'FOO=bar' })).toBe(await keyFor());
  });

  it('keeps the development image apart: BuildPackages= and the prepare script\'s "build" argument', async () => {
    // The prepare script runs with "build" in the development image: another root, another key.
    expect(await developmentKeyFor()).not.toBe(await keyFor());
    expect(await developmentKeyFor({ BuildPackages: 'gcc' })).not.toBe(await developmentKeyFor());
    // The image itself does not depend on BuildPackages=.
    expect(await keyFor({ BuildPackages: 'gcc' })).toBe(await keyFor());
  });

  it('without a prepare script or BuildPackages=, the development image is the image\'s own root', async () => {
    rmSync(path.join(dir, 'mkosi.prepare'));
    expect(await developmentKeyFor()).toBe(await keyFor());
  });

  it('lets a root with fewer packages be extended', async () => {
    const small = await inputsFor();
    const big = await inputsFor({ Packages: 'htop' });
    expect(sameExceptPackages(small, big)).toBe(true);
    expect(sameExceptPackages(small, await inputsFor({ Packages: 'htop', Release: 'trixie' }))).toBe(false);
  });
});

/** The key of the root without the prepare script, as a build with `settings` would cache it. */
async function layerKeyFor(settings: Partial<Record<SettingName, string>> = {}, phase: 'build' | 'final' = 'final'): Promise<string> {
  const layer = withoutPrepare(await inputsFor(settings, phase));
  if (!layer) throw new Error('no root without the prepare script: the project has none');
  return cacheKey(layer);
}

describe('the key of the cached root without the prepare script', () => {
  it('does not exist without a prepare script', async () => {
    rmSync(path.join(dir, 'mkosi.prepare'));
    expect(withoutPrepare(await inputsFor())).toBeUndefined();
  });

  it('is the key of the same project without a prepare script, so either one\'s root serves the other', async () => {
    const layer = await layerKeyFor();
    expect(layer).not.toBe(await keyFor());
    rmSync(path.join(dir, 'mkosi.prepare'));
    expect(await keyFor()).toBe(layer);
  });

  it('stays when the prepare script, its argument, its environment or its network change', async () => {
    const layer = await layerKeyFor();
    const full = await keyFor();
    writeFileSync(path.join(dir, 'mkosi.prepare'), '#!/bin/sh\necho prepared differently\n');
    expect(await keyFor()).not.toBe(full);
    expect(await layerKeyFor()).toBe(layer);
    // The development image (without BuildPackages=) and the image share it: one bootstrap for both.
    expect(await layerKeyFor({}, 'build')).toBe(layer);
    expect(await layerKeyFor({ Environment: 'FOO=bar', WithNetwork: 'yes' })).toBe(layer);
  });

  it.each([
    ['Packages', { Packages: 'htop' }],
    ['BasePackages', { BasePackages: 'no' }],
    ['Release', { Release: 'trixie' }],
    ['Mirror', { Mirror: 'http://127.0.0.2/debian' }],
  ] as const)('changes with %s, so a stale root is never used', async (_label, settings) => {
    expect(await layerKeyFor(settings as Partial<Record<SettingName, string>>)).not.toBe(await layerKeyFor());
  });

  it('changes with the skeleton tree and with BuildPackages= in the development image', async () => {
    const layer = await layerKeyFor();
    expect(await layerKeyFor({ BuildPackages: 'gcc' }, 'build')).not.toBe(layer);
    writeFileSync(path.join(dir, 'mkosi.skeleton/etc/skeleton'), 'two\n');
    expect(await layerKeyFor()).not.toBe(layer);
  });

  it('holds no cached initrd in the development image, which never gets one: the image\'s root is made from it', async () => {
    rmSync(path.join(dir, 'mkosi.prepare'));
    const bootable = { Bootable: 'yes', Incremental: 'yes', CacheInitrd: 'yes' } as const;
    const [image, development] = [await inputsFor(bootable), await inputsFor(bootable, 'build')];
    expect(image.initrd).not.toBeNull();
    expect(development.initrd).toBeNull();
    expect(await cacheKey(development)).not.toBe(await cacheKey(image));
    expect(extendsTo(development, image)).toBe(true);
    expect(extendsTo(image, development)).toBe(false);
    // Without CacheInitrd= the two roots are one, as without Bootable=.
    expect(await developmentKeyFor({ Bootable: 'yes', Incremental: 'yes' })).toBe(await keyFor({ Bootable: 'yes', Incremental: 'yes' }));
  });

  it('holds no cached initrd: that is made after the prepare script', async () => {
    const full = await inputsFor({ Bootable: 'yes', Incremental: 'yes', CacheInitrd: 'yes' });
    expect(full.initrd).not.toBeNull();
    expect(withoutPrepare(full)?.initrd).toBeNull();
  });
});

describe('digestTree over names that are bytes', () => {
  it('digests a skeleton whose names are not UTF-8, and tells apart names that decode alike', async () => {
    const tree = path.join(dir, 'mkosi.skeleton');
    const latin = (text: string) => Buffer.concat([Buffer.from(`${tree}/`), Buffer.from(text, 'latin1')]);
    writeFileSync(latin('\u00e9'), 'x');
    const first = await digestTree(tree);
    rmSync(latin('\u00e9'));
    // 0xe9 and 0xff both decode to U+FFFD: a key made of decoded names could not tell them apart.
    writeFileSync(latin('\u00ff'), 'x');
    expect(await digestTree(tree)).not.toBe(first);
  });
});
