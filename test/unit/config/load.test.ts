import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function project(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('loadConfig', () => {
  it('reads drop-ins from the -C directory, not from the shell\'s (where mkosi 14 looked)', () => {
    const dir = project('dash-c', {
      'mkosi.default': '[Distribution]\nDistribution=arch\n',
      'mkosi.default.d/10.conf': '[Content]\nPackages=from-project\n',
    });
    const elsewhere = project('shell-cwd', { 'mkosi.default.d/10.conf': '[Content]\nPackages=from-shell\n' });
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: elsewhere });
    expect(loaded.config.Packages).toEqual(['from-project']);
    expect(loaded.files).toEqual([path.join(dir, 'mkosi.default'), path.join(dir, 'mkosi.default.d/10.conf')]);
  });

  it('reads mkosi.conf instead of mkosi.default, and says so', () => {
    const dir = project('both', {
      'mkosi.conf': '[Distribution]\nDistribution=fedora\n',
      'mkosi.default': '[Distribution]\nDistribution=arch\n',
    });
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir });
    expect(loaded.config.Distribution).toBe('fedora');
    expect(loaded.warnings).toContain('mkosi.default is ignored because mkosi.conf exists (as in mkosi 14)');
  });

  it('takes mkosi.default as a link to mkosi.conf for the same file, without a warning', () => {
    const dir = project('linked', { 'mkosi.conf': '[Distribution]\nDistribution=fedora\n' });
    symlinkSync('mkosi.conf', path.join(dir, 'mkosi.default'));
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir });
    expect(loaded.files).toEqual([path.join(dir, 'mkosi.conf')]);
    expect(loaded.warnings).toEqual([]);
  });

  it('reads keys in a misspelled section as mkosi 14 does, and warns with the line and a suggestion', () => {
    const dir = project('section-typo', {
      'mkosi.default': '[Distribution]\nDistribution=debian\n\n[Partitons]\nRootSize=5G\n',
      'mkosi.default.d/10.conf': '[Stuff]\nPackages=vim\n[Whatever]\nRootSize=6G\nHomeSize=1G\n',
    });
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir });
    expect(loaded.config.RootSize).toBe(6 * 1024 ** 3);
    expect(loaded.config.HomeSize).toBe(1024 ** 3);
    expect(loaded.config.Packages).toEqual(['vim']);
    expect(loaded.warnings).toEqual([
      'mkosi.default:4: unknown section [Partitons]: its keys are read anyway, as mkosi 14 reads them; did you mean [Partitions]?',
      // No close spelling: the section its keys belong to, else the list.
      'mkosi.default.d/10.conf:1: unknown section [Stuff]: its keys are read anyway, as mkosi 14 reads them; did you mean [Content]?',
      'mkosi.default.d/10.conf:3: unknown section [Whatever]: its keys are read anyway, as mkosi 14 reads them; did you mean [Partitions]?',
    ]);
  });

  it('lists the sections when neither the name nor the keys suggest one', () => {
    const dir = project('section-unknown', { 'mkosi.default': '[Distribution]\nDistribution=debian\n[Misc]\nPackages=vim\nRootSize=5G\n' });
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir });
    expect(loaded.config.RootSize).toBe(5 * 1024 ** 3);
    expect(loaded.warnings).toEqual([
      'mkosi.default:3: unknown section [Misc]: its keys are read anyway, as mkosi 14 reads them; sections are [Distribution] [Output] [Content] [Partitions] [Validation] [Host]',
    ]);
  });

  it('reads the distribution drop-ins of the distribution the other files chose', () => {
    const dir = project('per-distribution', {
      'mkosi.default': '[Distribution]\nDistribution=debian\n',
      'mkosi.default.d/debian/10.conf': '[Content]\nPackages=apt-only\n',
      'mkosi.default.d/arch/10.conf': '[Content]\nPackages=pacman-only\n',
    });
    expect(loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir }).config.Packages).toEqual(['apt-only']);
  });

  it('works with no configuration file at all, from the host', () => {
    const dir = project('empty', { 'README': 'nothing here\n' });
    const loaded = loadConfig({ directory: dir, commandLine: [], host: HOST, env: ENV, cwd: dir });
    expect(loaded.files).toEqual([]);
    expect(loaded.config).toMatchObject({ Distribution: 'debian', Release: 'bookworm', Format: 'gpt_ext4', Output: path.join(dir, 'image.raw') });
  });

  it('refuses a host it cannot detect when nothing names a distribution', () => {
    const dir = project('unknown-host', { 'mkosi.default': '[Output]\nFormat=tar\n' });
    expect(() =>
      loadConfig({ directory: dir, commandLine: [], host: { ...HOST, distribution: null, release: null }, env: ENV, cwd: dir }),
    ).toThrow("couldn't detect the host's distribution");
  });
});
