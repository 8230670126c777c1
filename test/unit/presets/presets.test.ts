/**
 * How presets are found and layered beneath a configuration: the real presets/ directory and the
 * real config loader, on small configurations in temporary directories.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Assignment } from '../../../src/config/assign.js';
import type { Host } from '../../../src/config/host.js';
import { loadConfig, type Loaded } from '../../../src/config/load.js';
import type { SettingName } from '../../../src/config/types.js';
import { UserError } from '../../../src/errors.js';
import { BUILTIN_PRESETS, DEFAULT_PRESET, findPreset, implicitPreset, implicitPresetNote, listPresets, presetLayer } from '../../../src/presets.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'http://127.0.0.1/debian', kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-presets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
function project(files: Record<string, string> = {}): string {
  const dir = path.join(root, `p${count++}`);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text, { mode: file === 'mkosi.rootpw' ? 0o600 : 0o644 });
  }
  return dir;
}

function cli(settings: Partial<Record<SettingName, string>>): Assignment[] {
  return Object.entries(settings).map(([name, raw]) => ({ name: name as SettingName, raw, invert: false, origin: { file: 'command line' }, spelling: `--${name}` }));
}

function load(dir: string, preset: string | undefined, settings: Partial<Record<SettingName, string>> = {}, env: Record<string, string> = ENV): Loaded {
  const layer = preset === undefined ? {} : presetLayer(findPreset(preset, env), dir);
  return loadConfig({ directory: dir, commandLine: cli(settings), host: HOST, env, cwd: dir, ...layer });
}

describe('the presets kiln ships', () => {
  it('are the five named ones, each with a one-line description', () => {
    const presets = listPresets(ENV);
    expect(presets.map((p) => p.name)).toEqual(['arch-base', 'debian-container', 'debian-minimal', 'debian-server', 'fedora-minimal']);
    for (const preset of presets) {
      expect(preset.directory).toBe(path.join(BUILTIN_PRESETS, preset.name));
      expect(preset.description.length, preset.name).toBeGreaterThan(20);
      expect(preset.description).not.toMatch(/^#|^[a-z-]+:/);
    }
  });

  it.each([
    ['debian-minimal', { Distribution: 'debian', Release: 'bookworm', Format: 'tar', Packages: ['less'], Password: null, ExtraTrees: [] }],
    ['debian-container', { Distribution: 'debian', Format: 'tar', Packages: ['less'], Password: '', ExtraTrees: [path.join(BUILTIN_PRESETS, 'debian-container/mkosi.extra')] }],
    ['debian-server', { Distribution: 'debian', Format: 'tar', Packages: ['less', 'openssh-server'], Password: '', RemoveFiles: ['/etc/ssh/ssh_host_*'] }],
    ['arch-base', { Distribution: 'arch', Format: 'tar', Packages: [], Mirror: 'https://geo.mirror.pkgbuild.com', LocalMirror: null }],
    ['fedora-minimal', { Distribution: 'fedora', Release: '40', Format: 'tar', Packages: [], Mirror: null, LocalMirror: null }],
  ] as const)('%s resolves, with nothing of the user\'s, to what it promises', (name, expected) => {
    const dir = project();
    const loaded = load(dir, name);
    expect(loaded.config).toMatchObject(expected);
    expect(loaded.files).toEqual([path.join(BUILTIN_PRESETS, name, 'mkosi.default')]);
    // Outputs land in the user's directory, never in the preset's.
    expect(path.dirname(loaded.config.Output)).toBe(dir);
  });

  it('resolve a preset\'s relative paths from the preset\'s own directory', () => {
    const loaded = load(project(), 'debian-container');
    expect(loaded.config.NSpawnSettings).toBe(path.join(BUILTIN_PRESETS, 'debian-container/mkosi.nspawn'));
  });
});

describe('a preset beneath a configuration', () => {
  it('loses to the configuration\'s scalars and the command line; lists add up in order', () => {
    const dir = project({ 'mkosi.default': '[Output]\nFormat=directory\n\n[Content]\nPackages=vim\n' });
    const loaded = load(dir, 'debian-server', { Packages: 'htop', Hostname: 'cli' });
    expect(loaded.config.Format).toBe('directory');
    expect(loaded.config.Hostname).toBe('cli');
    expect(loaded.config.Packages).toEqual(['less', 'openssh-server', 'vim', 'htop']);
    expect(loaded.files).toEqual([path.join(BUILTIN_PRESETS, 'debian-server/mkosi.default'), path.join(dir, 'mkosi.default')]);
  });

  it('can have its list items removed with !x and cleared with !*', () => {
    const dir = project({ 'mkosi.default': '[Content]\nPackages=!less\n' });
    expect(load(dir, 'debian-server').config.Packages).toEqual(['openssh-server']);
    expect(load(project({ 'mkosi.default': '[Content]\nPackages=!*\n' }), 'debian-server').config.Packages).toEqual([]);
  });

  it('copies its trees first, then the configuration\'s own mkosi.extra/', () => {
    const dir = project({ 'mkosi.extra/etc/motd': 'mine\n' });
    expect(load(dir, 'debian-container').config.ExtraTrees).toEqual([path.join(BUILTIN_PRESETS, 'debian-container/mkosi.extra'), path.join(dir, 'mkosi.extra')]);
  });

  it('yields to the files of the configuration directory that stand for a setting (mkosi.rootpw, mkosi.nspawn)', () => {
    const dir = project({ 'mkosi.rootpw': 'secret\n', 'mkosi.nspawn': '[Network]\nVirtualEthernet=no\n' });
    const loaded = load(dir, 'debian-container');
    expect(loaded.config.Password).toBe('secret');
    expect(loaded.config.NSpawnSettings).toBe(path.join(dir, 'mkosi.nspawn'));
    // Without them, the preset's values stand.
    expect(load(project(), 'debian-container').config.Password).toBe('');
  });

  it('is found first in $KILN_PRESET_PATH, which may hide one of kiln\'s own', () => {
    const mine = project({ 'debian-minimal/mkosi.default': '# debian-minimal: my own\n[Output]\nFormat=directory\n' });
    const env = { ...ENV, KILN_PRESET_PATH: mine };
    expect(findPreset('debian-minimal', env).description).toBe('my own');
    expect(load(project(), 'debian-minimal', {}, env).config.Format).toBe('directory');
    expect(listPresets(env)).toHaveLength(5);
  });
});

describe('finding a preset', () => {
  it('names the presets, with a suggestion, when there is no such one', () => {
    const error = (() => {
      try {
        findPreset('debian-contianer', ENV);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('there is no preset "debian-contianer"');
    expect((error as UserError).hint).toBe('did you mean debian-container? (presets: arch-base, debian-container, debian-minimal, debian-server, fedora-minimal)');
  });

  it('refuses names that are paths', () => {
    for (const name of ['../presets/debian-minimal', '/etc', '.hidden', '']) {
      expect(() => findPreset(name, ENV), name).toThrow(/is not a preset name/);
    }
  });

  it('ignores a directory without mkosi.default', () => {
    const mine = project({ 'broken/README': 'no config\n' });
    symlinkSync('/nonexistent', path.join(mine, 'dangling'));
    expect(() => findPreset('broken', { ...ENV, KILN_PRESET_PATH: mine })).toThrow(/there is no preset "broken"/);
  });
});

describe('the implicit default preset', () => {
  const args = (over: Partial<Parameters<typeof implicitPreset>[0]> = {}): Parameters<typeof implicitPreset>[0] => ({
    preset: undefined,
    defaultPath: undefined,
    configFiles: [],
    assignments: [],
    ...over,
  });

  it('applies in a directory with no configuration at all', () => {
    expect(implicitPreset(args(), project({ 'README': 'x\n', 'mkosi.extra/etc/motd': 'x\n' }))).toBe(DEFAULT_PRESET);
  });

  it('does not apply where there is a configuration, a named preset, @FILE, --default or a distribution on the command line', () => {
    const empty = project();
    expect(implicitPreset(args(), project({ 'mkosi.default': '' }))).toBeUndefined();
    expect(implicitPreset(args(), project({ 'mkosi.conf': '' }))).toBeUndefined();
    expect(implicitPreset(args(), project({ 'mkosi.default.d/10.conf': '' }))).toBeUndefined();
    expect(implicitPreset(args({ preset: 'arch-base' }), empty)).toBeUndefined();
    expect(implicitPreset(args({ configFiles: ['x.conf'] }), empty)).toBeUndefined();
    expect(implicitPreset(args({ defaultPath: 'other.conf' }), empty)).toBeUndefined();
    expect(implicitPreset(args({ assignments: cli({ Distribution: 'fedora' }) }), empty)).toBeUndefined();
    expect(implicitPreset(args({ assignments: cli({ Format: 'directory' }) }), empty)).toBe(DEFAULT_PRESET);
  });

  it('is announced in one line that says what it builds', () => {
    const note = implicitPresetNote({ Distribution: 'debian', Release: 'bookworm', Format: 'tar' }, 'this directory');
    expect(note).toBe('kiln: no mkosi.default in this directory, so kiln uses its debian-minimal preset (debian bookworm, Format=tar); `kiln init` writes a configuration to start from');
    expect(note).not.toContain('\n');
  });
});
