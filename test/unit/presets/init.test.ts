/**
 * kiln init: the verb itself, run on temporary directories with arguments parsed as the CLI parses
 * them. What it writes must load as the preset it came from does (so `kiln build` in it builds that
 * preset plus the worked examples), and it must never overwrite anything.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArguments } from '../../../src/cli/arguments.js';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';
import { configureLog } from '../../../src/log.js';
import { findPreset, presetLayer } from '../../../src/presets.js';
import { VERBS } from '../../../src/verbs/index.js';
import { init } from '../../../src/verbs/init.js';
import type { Invocation } from '../../../src/verbs/types.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'http://127.0.0.1/debian', kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
configureLog({ quiet: true });

async function runInit(argv: readonly string[], cwd = root): Promise<void> {
  const args = parseArguments(['init', ...argv], VERBS);
  const invocation: Invocation = {
    args,
    cwd,
    directory: path.resolve(cwd, args.directory ?? '.'),
    display: (file) => path.relative(cwd, file) || '.',
    config: () => {
      throw new Error('kiln init must not load a configuration');
    },
    images: () => {
      throw new Error('kiln init must not load a configuration');
    },
  };
  await init.run(invocation);
}

const load = (dir: string, layer = {}) => loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir, ...layer }).config;

describe('kiln init', () => {
  it('writes mkosi.default, an executable mkosi.postinst, mkosi.extra/ with an example, mkosi.nspawn and .gitignore', async () => {
    await runInit(['fresh']);
    const dir = path.join(root, 'fresh');
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'mkosi.default', 'mkosi.extra', 'mkosi.nspawn', 'mkosi.postinst']);
    expect(statSync(path.join(dir, 'mkosi.postinst')).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(dir, 'mkosi.default')).mode & 0o777).toBe(0o644);
    expect(readFileSync(path.join(dir, 'mkosi.postinst'), 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    expect(readFileSync(path.join(dir, 'mkosi.extra/etc/motd'), 'utf8')).toContain('Welcome to fresh');
    expect(readFileSync(path.join(dir, 'mkosi.default'), 'utf8')).toMatch(/^# An image definition written by `kiln init --preset debian-minimal`/);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['/image', '/image.*', '/SHA256SUMS', '/mkosi.cache/', '/mkosi.rootpw']));
    // No staging directory is left behind.
    expect(readdirSync(dir).filter((name) => name.startsWith('.kiln-init'))).toEqual([]);
  });

  it.each(['debian-minimal', 'debian-container', 'debian-server', 'arch-base', 'fedora-minimal'])(
    'with --preset %s, writes a directory that resolves as the preset does, plus its own examples',
    async (name) => {
      await runInit([`from-${name}`, '--preset', name]);
      const dir = path.join(root, `from-${name}`);
      const written = load(dir);
      const empty = mkdtempSync(path.join(root, 'empty-'));
      const viaPreset = load(empty, presetLayer(findPreset(name, ENV), empty));
      // The same settings, where paths in the project are read relative to it.
      const inProject = (value: unknown, project: string): string => JSON.stringify(value).replaceAll(project, 'PROJECT');
      const examples = new Set(['ExtraTrees', 'PostInstallationScript', 'NSpawnSettings']);
      for (const [key, value] of Object.entries(written)) {
        if (!examples.has(key)) expect(inProject(value, dir), key).toEqual(inProject(viaPreset[key as keyof typeof viaPreset], empty));
      }
      expect(written.PostInstallationScript).toBe(path.join(dir, 'mkosi.postinst'));
      expect(written.ExtraTrees).toEqual([path.join(dir, 'mkosi.extra')]);
      expect(written.NSpawnSettings).toBe(path.join(dir, 'mkosi.nspawn'));
    },
  );

  it('copies the preset\'s trees, links as links', async () => {
    await runInit(['container', '--preset', 'debian-container']);
    const link = path.join(root, 'container/mkosi.extra/etc/systemd/system/multi-user.target.wants/systemd-networkd.service');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('/lib/systemd/system/systemd-networkd.service');
    expect(readFileSync(path.join(root, 'container/mkosi.nspawn'), 'utf8')).toContain('VirtualEthernet=yes');
    expect(readFileSync(path.join(root, 'fresh/mkosi.nspawn'), 'utf8')).toContain('VirtualEthernet=no');
  });

  it('writes into the -C directory (or the current one) when no DIR is given', async () => {
    const dir = path.join(root, 'dash-c');
    mkdirSync(dir);
    await runInit(['-C', dir]);
    expect(existsSync(path.join(dir, 'mkosi.default'))).toBe(true);
  });

  it('refuses to overwrite anything, naming what is there, and writes nothing', async () => {
    const dir = path.join(root, 'taken');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '.gitignore'), 'mine\n');
    writeFileSync(path.join(dir, 'mkosi.conf'), '[Distribution]\nDistribution=arch\n');
    await expect(runInit(['taken'])).rejects.toThrow('taken already has mkosi.conf, .gitignore; kiln init never overwrites files');
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'mkosi.conf']);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('mine\n');
  });

  it('refuses an unknown preset and a file in place of the directory, writing nothing', async () => {
    await expect(runInit(['nope', '--preset', 'debian-contaner'])).rejects.toThrow('there is no preset "debian-contaner"');
    expect(existsSync(path.join(root, 'nope'))).toBe(false);
    writeFileSync(path.join(root, 'a-file'), '');
    await expect(runInit(['a-file'])).rejects.toThrow('a-file exists and is not a directory');
    await expect(runInit(['one', 'two'])).rejects.toThrow('kiln init takes one directory');
  });
});
