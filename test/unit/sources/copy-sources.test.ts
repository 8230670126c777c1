/**
 * What reaches /root/src for each SourceFileTransfer= mode, on real trees and real git repositories:
 * which files, with their modification times (make depends on them), links as links unless
 * SourceResolveSymlinks=, and never kiln's outputs, caches, workspaces or build directories.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { copySources } from '../../../src/sources/copy-sources.js';
import { isExcludedPath, sourceExclusions } from '../../../src/sources/exclusions.js';
import { unquoteGitPath } from '../../../src/sources/git-files.js';

let dir: string;
let out: string;

function write(file: string, content = `${file}\n`): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), content);
}

function configFor(lines = ''): Config {
  writeFileSync(path.join(dir, 'mkosi.default'), `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n[Content]\n${lines}\n`);
  return loadConfig({ directory: dir, commandLine: [], cwd: dir, env: { PATH: '/usr/bin:/bin' } }).config;
}

/** Every file and link below a directory, relative, sorted. */
function listed(root: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(root, prefix), { withFileTypes: true })) {
    const relative = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...listed(root, relative));
    else found.push(relative);
  }
  return found.sort();
}

async function copy(mode: Parameters<typeof copySources>[0]['mode'], options: { resolveSymlinks?: boolean; config?: Config } = {}): Promise<string[]> {
  const config = options.config ?? configFor();
  const target = path.join(out, mode);
  await copySources({ sources: dir, mode, resolveSymlinks: options.resolveSymlinks ?? false, exclusions: sourceExclusions(config, dir, mode === 'copy-git-more') }, target);
  return listed(target);
}

function git(...args: string[]): void {
  execFileSync('git', ['-C', dir, '-c', 'user.name=kiln', '-c', 'user.email=kiln@localhost', ...args], { stdio: 'pipe' });
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-sources-'));
  out = mkdtempSync(path.join(os.tmpdir(), 'kiln-sources-out-'));
  write('src/main.c');
  write('Makefile');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

describe('SourceFileTransfer=copy-all', () => {
  it('copies everything but outputs, caches, workspaces, build directories and .git', async () => {
    const config = configFor('BuildDirectory=mkosi.builddir');
    for (const file of ['image.tar.xz', 'image.tar.xz.manifest', 'mkosi.cache/debian~bookworm/packages/a.deb', 'mkosi.builddir/debian~bookworm/main.o', '.kiln-build-abc/root/x', '.mkosi-old/x', '.git/HEAD', 'sub/.git/HEAD', 'mkosi.output/x', 'mkosi.installdir/x']) write(file);
    expect(await copy('copy-all', { config })).toEqual(['Makefile', 'mkosi.default', 'src/main.c']);
  });

  it('keeps modes and modification times, and links as links', async () => {
    utimesSync(path.join(dir, 'src/main.c'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    writeFileSync(path.join(dir, 'configure'), '#!/bin/sh\n', { mode: 0o750 });
    symlinkSync('/etc/passwd', path.join(dir, 'absolute-link'));
    await copy('copy-all');
    const target = path.join(out, 'copy-all');
    expect(statSync(path.join(target, 'src/main.c')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect(statSync(path.join(target, 'configure')).mode & 0o777).toBe(0o750);
    expect(readlinkSync(path.join(target, 'absolute-link'))).toBe('/etc/passwd');
  });

  it('with SourceResolveSymlinks=yes copies what links point to, and refuses a dangling link or a loop', async () => {
    symlinkSync('src', path.join(dir, 'also-src'));
    symlinkSync('Makefile', path.join(dir, 'GNUmakefile'));
    await copy('copy-all', { resolveSymlinks: true });
    const target = path.join(out, 'copy-all');
    expect(lstatSync(path.join(target, 'also-src')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(target, 'also-src/main.c'), 'utf8')).toBe('src/main.c\n');
    expect(lstatSync(path.join(target, 'GNUmakefile')).isFile()).toBe(true);

    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    await expect(copy('copy-all', { resolveSymlinks: true })).rejects.toThrow('BuildSources=: dangling is a symbolic link to nowhere, which does not exist');

    rmSync(path.join(dir, 'dangling'));
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    symlinkSync('..', path.join(dir, 'src/up'));
    await expect(copy('copy-all', { resolveSymlinks: true })).rejects.toThrow(/src\/up is a symbolic link to a directory that contains it/);
  });
});

describe('SourceFileTransfer=copy-git-*', () => {
  beforeEach(() => {
    write('.gitignore', '/ignored.txt\n/image*\n');
    configFor();
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'sources');
    write('ignored.txt');
    write('untracked.txt');
    write('image.tar.xz');
  });

  it('copy-git-cached: what git tracks', async () => {
    expect(await copy('copy-git-cached')).toEqual(['.gitignore', 'Makefile', 'mkosi.default', 'src/main.c']);
  });

  it('copy-git-others: also untracked files, but not ignored ones', async () => {
    expect(await copy('copy-git-others')).toEqual(['.gitignore', 'Makefile', 'mkosi.default', 'src/main.c', 'untracked.txt']);
  });

  it('copy-git-others never takes kiln\'s outputs, even where git would', async () => {
    write('.gitignore', '');
    expect(await copy('copy-git-others')).not.toContain('image.tar.xz');
  });

  it('copy-git-more: what git tracks and the .git directory', async () => {
    const files = await copy('copy-git-more');
    expect(files.filter((file) => !file.startsWith('.git/'))).toEqual(['.gitignore', 'Makefile', 'mkosi.default', 'src/main.c']);
    expect(files).toContain('.git/HEAD');
    execFileSync('git', ['-C', path.join(out, 'copy-git-more'), 'status', '--porcelain'], { stdio: 'pipe' });
  });

  it('skips files git tracks that the work tree no longer has', async () => {
    rmSync(path.join(dir, 'Makefile'));
    expect(await copy('copy-git-cached')).toEqual(['.gitignore', 'mkosi.default', 'src/main.c']);
  });

  it('lists the files of submodules from inside them', async () => {
    const inner = mkdtempSync(path.join(os.tmpdir(), 'kiln-sources-sub-'));
    try {
      execFileSync('sh', ['-c', `cd "${inner}" && git init -q && echo lib > lib.c && git add lib.c && git -c user.name=k -c user.email=k@l commit -q -m lib`]);
      git('-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', inner, 'vendor/lib');
      git('commit', '-q', '-m', 'submodule');
      const files = await copy('copy-git-cached');
      expect(files).toContain('vendor/lib/lib.c');
      expect(files).not.toContain('vendor/lib/.git');
    } finally {
      rmSync(inner, { recursive: true, force: true });
    }
  });
});

describe('names that are not UTF-8', () => {
  const latin = Buffer.from('caf\xe9.c', 'latin1');

  it('are copied as the bytes they are, by copy-all and by git', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/src/`), latin]), 'bytes\n');
    await copy('copy-all');
    expect(readdirSync(path.join(out, 'copy-all/src'), { encoding: 'buffer' }).some((name) => name.equals(latin))).toBe(true);
    configFor();
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'bytes');
    await copy('copy-git-cached');
    expect(readdirSync(path.join(out, 'copy-git-cached/src'), { encoding: 'buffer' }).some((name) => name.equals(latin))).toBe(true);
  });

  it('are read back from git\'s quoting', () => {
    expect(unquoteGitPath('"src/caf\\351.c"')).toEqual(Buffer.concat([Buffer.from('src/'), latin]));
    expect(unquoteGitPath('"tab\\there \\"quoted\\" back\\\\slash"')).toEqual(Buffer.from('tab\there "quoted" back\\slash'));
    expect(unquoteGitPath('plain/name.c')).toEqual(Buffer.from('plain/name.c'));
  });
});

describe('sourceExclusions', () => {
  it('leaves out outputs and build directories inside the sources, and nothing outside them', () => {
    const config = configFor('BuildDirectory=/elsewhere/builddir');
    const exclusions = sourceExclusions(config, dir, false);
    const excluded = (relative: string) => isExcludedPath(exclusions, dir, Buffer.from(relative));
    expect(excluded('image.tar.xz')).toBe(true);
    expect(excluded('mkosi.cache/x')).toBe(true);
    expect(excluded('deep/.git/config')).toBe(true);
    expect(excluded('src/main.c')).toBe(false);
    expect([...exclusions.paths].every((file) => file.startsWith(`${dir}/`))).toBe(true);
  });
});
