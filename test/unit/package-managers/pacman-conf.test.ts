import { describe, expect, it } from 'vitest';
import { arch } from '../../../src/distributions/arch.js';
import { UserError } from '../../../src/errors.js';
import { parsePacmanDesc } from '../../../src/package-managers/pacman.js';
import { parseArchRepositories, renderPacmanConf } from '../../../src/package-managers/pacman-conf.js';
import { configOf } from './config-of.js';

const ARCH = '[Distribution]\nDistribution=arch\nArchitecture=x86_64\n';

describe('Arch repositories (distributions/arch.ts)', () => {
  it('puts [core] and [extra] at Mirror/$repo/os/$arch', () => {
    const config = configOf(`${ARCH}Mirror=http://127.0.0.1/archlinux/\n`);
    expect(arch.pacmanRepositories(config)).toEqual([
      { name: 'core', server: 'http://127.0.0.1/archlinux/$repo/os/$arch' },
      { name: 'extra', server: 'http://127.0.0.1/archlinux/$repo/os/$arch' },
    ]);
    expect(arch.mirrorList(config)).toBe('Server = http://127.0.0.1/archlinux/$repo/os/$arch\n');
  });

  it('uses LocalMirror= as the single [core] repository and keeps Mirror= for the image', () => {
    const config = configOf(`${ARCH}Mirror=http://127.0.0.1/arch\nLocalMirror=file:///srv/repo\n`);
    expect(arch.pacmanRepositories(config)).toEqual([{ name: 'core', server: 'file:///srv/repo' }]);
    expect(arch.mirrorList(config)).toBe('Server = http://127.0.0.1/arch/$repo/os/$arch\n');
    // Without Mirror=, the image gets mkosi 14's default mirror, never the build's LocalMirror=.
    expect(arch.mirrorList(configOf(`${ARCH}LocalMirror=file:///srv/repo\n`))).toBe('Server = https://geo.mirror.pkgbuild.com/$repo/os/$arch\n');
  });

  it('reads Repositories=name::url, signed as RepositoryKeyCheck= says', () => {
    expect(parseArchRepositories(['mine::file:///srv/mine', 'other::http://127.0.0.1/o'], true)).toEqual([
      { name: 'mine', server: 'file:///srv/mine', sigLevel: 'Optional TrustedOnly' },
      { name: 'other', server: 'http://127.0.0.1/o', sigLevel: 'Optional TrustedOnly' },
    ]);
    expect(parseArchRepositories(['mine::file:///x'], false)).toEqual([{ name: 'mine', server: 'file:///x', sigLevel: 'Never' }]);
  });

  it('refuses a Repositories= entry without ::', () => {
    expect(() => parseArchRepositories(['file:///srv/mine'], true)).toThrow(UserError);
    expect(() => parseArchRepositories(['::file:///srv/mine'], true)).toThrow(/NAME::URL/);
  });

  it('follows the Arch Linux ARM layout on aarch64', () => {
    const config = { ...configOf(`${ARCH}Mirror=http://127.0.0.1/alarm\n`), Architecture: 'aarch64' };
    expect(arch.pacmanRepositories(config)[0]).toEqual({ name: 'core', server: 'http://127.0.0.1/alarm/$arch/$repo' });
  });

  it('probes the [core] database of LocalMirror= or Mirror= before building', () => {
    expect(arch.probe?.(configOf(`${ARCH}LocalMirror=file:///srv/repo/\n`))).toEqual({ url: 'file:///srv/repo/core.db', setting: 'LocalMirror' });
    expect(arch.probe?.(configOf(`${ARCH}Mirror=http://127.0.0.1/archlinux\n`))).toEqual({
      url: 'http://127.0.0.1/archlinux/core/os/x86_64/core.db',
      setting: 'Mirror',
    });
  });

  it('has base as its base package, and none for BasePackages=no or conditional', () => {
    expect(arch.basePackages(configOf(ARCH))).toEqual(['base']);
    expect(arch.basePackages(configOf(`${ARCH}[Content]\nBasePackages=no\n`))).toEqual([]);
    expect(arch.basePackages(configOf(`${ARCH}[Content]\nBasePackages=conditional\n`))).toEqual([]);
  });
});

describe('renderPacmanConf', () => {
  const options = {
    root: '/build/root/',
    cacheDirectories: ['/build/downloads', '/var/cache/kiln/packages'],
    gpgDirectory: '/etc/pacman.d/gnupg',
    architecture: 'x86_64',
    keyCheck: true,
    withDocs: false,
    repositories: [{ name: 'core', server: 'file:///srv/repo' }, { name: 'mine', server: 'file:///srv/mine', sigLevel: 'Never' }],
  };

  it('writes the root, the package cache outside it, the host keyring and the repositories', () => {
    expect(renderPacmanConf(options)).toBe(
      [
        '[options]',
        'RootDir = /build/root/',
        'DBPath = /build/root/var/lib/pacman/',
        'CacheDir = /build/downloads/',
        'CacheDir = /var/cache/kiln/packages/',
        'HookDir = /build/root/etc/pacman.d/hooks/',
        'GPGDir = /etc/pacman.d/gnupg/',
        'LogFile = /dev/null',
        'HoldPkg = pacman glibc',
        'Architecture = x86_64',
        'SigLevel = Required DatabaseOptional',
        'ParallelDownloads = 5',
        'NoExtract = usr/share/doc/* usr/share/gtk-doc/* usr/share/help/* usr/share/info/* usr/share/man/*',
        '',
        '[core]',
        'Server = file:///srv/repo',
        '',
        '[mine]',
        'SigLevel = Never',
        'Server = file:///srv/mine',
        '',
      ].join('\n'),
    );
  });

  it('checks no signatures without RepositoryKeyCheck= and keeps documentation with WithDocs=', () => {
    const text = renderPacmanConf({ ...options, keyCheck: false, withDocs: true });
    expect(text).toContain('\nSigLevel = Never\n');
    expect(text).not.toContain('NoExtract');
  });

  it('includes RepositoryDirectory= after the distribution repositories and before Repositories=, as mkosi 14', () => {
    const text = renderPacmanConf({
      ...options,
      repositories: [{ name: 'core', server: 'file:///srv/repo' }],
      includeDirectory: '/project/mkosi.reposdir/',
      extraRepositories: [{ name: 'mine', server: 'file:///srv/mine', sigLevel: 'Never' }],
    });
    expect(text.slice(text.indexOf('[core]'))).toBe(
      '[core]\nServer = file:///srv/repo\n\nInclude = /project/mkosi.reposdir/*\n\n[mine]\nSigLevel = Never\nServer = file:///srv/mine\n',
    );
  });

  it('refuses values that would change the meaning of the file', () => {
    expect(() => renderPacmanConf({ ...options, repositories: [{ name: 'a]b', server: 'file:///x' }] })).toThrow(UserError);
    expect(() => renderPacmanConf({ ...options, repositories: [{ name: 'a', server: 'file:///x\n[evil]' }] })).toThrow(UserError);
  });
});

describe('parsePacmanDesc', () => {
  it('reads name, full version and architecture from a local database entry', () => {
    const desc = '%NAME%\nlinux-firmware\n\n%VERSION%\n1:20231110.74158e7a-1\n\n%BASE%\nlinux-firmware\n\n%ARCH%\nany\n\n%DEPENDS%\nfoo\nbar\n';
    expect(parsePacmanDesc(desc)).toEqual({ name: 'linux-firmware', version: '1:20231110.74158e7a-1', architecture: 'any', base: 'linux-firmware' });
    expect(parsePacmanDesc('%NAME%\nbash\n\n%SIZE%\n9437184\n').size).toBe(9437184);
  });
});
