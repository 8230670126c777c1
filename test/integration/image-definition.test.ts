/**
 * Tests copy an image's definition, never what was built or left beside it: README's first command
 * builds images/debian-minimal in place, and the suite (README's second command) must still pass.
 * `.ci/run` runs the suite in exactly that state; these checks keep the copying rule itself honest.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unavailable } from '../skip.js';
import { copyImageDefinition } from './helpers/image-definition.js';
import { makeProject, REPO } from './helpers/kiln.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-definition-'));
  made.push(dir);
  return dir;
}

function listTree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    return entry.isDirectory() ? [`${relative}/`, ...listTree(path.join(dir, entry.name), relative)] : [relative];
  });
}

const gitFiles = spawnSync('git', ['-C', REPO, 'ls-files', '-z', 'images'], { encoding: 'utf8' });
const notGit = unavailable(gitFiles.status === 0 ? undefined : 'needs a git checkout, to list the files images/ holds');

describe('copying an image definition', () => {
  it('leaves out outputs, caches and workspaces a build left beside it', () => {
    const source = tempDir();
    const definition = {
      'mkosi.default': '[Distribution]\nDistribution=debian\n',
      'mkosi.default.d/10-more.conf': '[Content]\nPackages=less\n',
      'mkosi.extra/etc/motd': 'hello\n',
      'mkosi.skeleton/etc/issue': 'skeleton\n',
      'mkosi.postinst': '#!/bin/sh\n',
      'mkosi.nspawn': '[Exec]\n',
    };
    const leftovers = [
      'image', 'image.tar.xz', 'image.raw', 'image.tar.xz.manifest', 'image.nspawn', 'image.roothash',
      'SHA256SUMS', 'SHA256SUMS.gpg', 'app_1.2.raw', 'mkosi.output/debian~bookworm/image.tar.xz',
      'mkosi.cache/debian~bookworm/x.deb', 'mkosi.builddir/debian~bookworm/obj', 'mkosi.workspace/x',
      'mkosi.installdir/usr/bin/x', '.kiln-build-1234/root/etc/x', 'notes.txt',
    ];
    for (const [name, content] of Object.entries(definition)) {
      mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
      writeFileSync(path.join(source, name), content);
    }
    for (const name of leftovers) {
      mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
      writeFileSync(path.join(source, name), 'built\n');
    }
    symlinkSync('/usr/lib/os-release', path.join(source, 'mkosi.extra/etc/os-release'));

    const target = tempDir();
    copyImageDefinition(source, target);

    const files = listTree(target).filter((name) => !name.endsWith('/'));
    expect(files.sort()).toEqual([...Object.keys(definition), 'mkosi.extra/etc/os-release'].sort());
    // Links in a tree are part of the definition, as they are (never followed).
    expect(lstatSync(path.join(target, 'mkosi.extra/etc/os-release')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(target, 'mkosi.extra/etc/os-release'))).toBe('/usr/lib/os-release');
  });

  it('with a build script, copies the sources beside it too, and still no leftovers', () => {
    const source = tempDir();
    const definition = {
      'mkosi.default': '[Distribution]\nDistribution=debian\n',
      'mkosi.build': '#!/bin/sh\nmake\n',
      Makefile: 'all:\n',
      'src/main.c': 'int main(void) { return 0; }\n',
      '.gitignore': '/image/\n',
    };
    const leftovers = ['image/usr/bin/x', 'image.manifest', 'SHA256SUMS', 'mkosi.builddir/debian~bookworm/main.o', 'mkosi.cache/x', '.kiln-build-1/root/x'];
    for (const [name, content] of [...Object.entries(definition), ...leftovers.map((name) => [name, 'built\n'] as const)]) {
      mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
      writeFileSync(path.join(source, name), content);
    }
    const target = tempDir();
    copyImageDefinition(source, target);
    expect(listTree(target).filter((name) => !name.endsWith('/')).sort()).toEqual(Object.keys(definition).sort());
  });

  it('refuses a directory that has no configuration', () => {
    const source = tempDir();
    writeFileSync(path.join(source, 'image.tar.xz'), 'built\n');
    expect(() => copyImageDefinition(source, tempDir())).toThrow(/has no mkosi.default/);
  });

  it.skipIf(notGit)('makeProject copies every file git holds of each image, so no test misses part of one', () => {
    const images = [...new Set(gitFiles.stdout.split('\0').filter(Boolean).map((file) => file.split('/')[1]!))];
    for (const image of images) {
      const project = makeProject(image);
      made.push(project);
      const tracked = gitFiles.stdout.split('\0').filter((file) => file.startsWith(`images/${image}/`)).map((file) => file.slice(`images/${image}/`.length));
      const copied = new Set(listTree(project));
      const missing = tracked.filter((file) => !copied.has(file));
      expect(missing, `images/${image}: add these to DEFINITION_ENTRIES (test/integration/helpers/image-definition.ts)`).toEqual([]);
    }
  });
});
