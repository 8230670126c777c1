import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDistinctOutputs, findImageFiles, loadImages, selectImages } from '../../../src/all/images.js';
import { defaultWidth, queueWidth } from '../../../src/all/width.js';
import { parseArguments } from '../../../src/cli/arguments.js';
import type { Host } from '../../../src/config/host.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigErrors, UserError } from '../../../src/errors.js';
import { VERBS } from '../../../src/verbs/index.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: 'http://127.0.0.1/debian', kvm: false };
const ENV = { PATH: '/nonexistent', XDG_CACHE_HOME: '/nonexistent/cache' };
const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-all-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const GiB = 1024 ** 3;

function project(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const show = (file: string) => path.relative(root, file);

function load(dir: string, commandLine: string[] = []) {
  const args = parseArguments(commandLine, VERBS);
  const warnings: string[] = [];
  const files = findImageFiles(path.join(dir, 'mkosi.files'), show, warnings);
  const images = loadImages(files, (file) => loadConfig({ directory: dir, file, commandLine: args.assignments, host: HOST, env: ENV, cwd: dir }));
  return { images, warnings };
}

describe('kiln --all reads mkosi.files/ as mkosi 14 does', () => {
  const dir = project('mkosi-files', {
    'mkosi.default': '[Content]\nPackages=from-top-level\n',
    'mkosi.default.d/10.conf': '[Content]\nPackages=from-drop-in\n',
    'mkosi.files/mkosi.b-tar': '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n[Content]\nPackages=busybox\n',
    'mkosi.files/mkosi.a-disk': '[Distribution]\nDistribution=debian\n[Output]\nFormat=gpt_ext4\nImageId=disk\n',
    'mkosi.files/README': 'not an image\n',
    'mkosi.files/mkosi.dir/x': '',
    'mkosi.extra/etc/motd': 'hi\n',
  });

  it('takes each mkosi.* file alone, in name order, with the trees of the top directory and the command line', () => {
    const { images, warnings } = load(dir, ['-p', 'vim']);
    expect(images.map((image) => image.name)).toEqual(['a-disk', 'b-tar']);
    expect(warnings).toEqual(['--all: mkosi-files/mkosi.files/mkosi.dir is not a file; skipped']);
    const [disk, tar] = images.map((image) => image.loaded.config);
    expect(tar!.Packages).toEqual(['busybox', 'vim']);
    expect(disk!.Packages).toEqual(['vim']);
    expect(tar!.ExtraTrees).toEqual([path.join(dir, 'mkosi.extra')]);
    expect(images[1]!.loaded.files).toEqual([path.join(dir, 'mkosi.files/mkosi.b-tar')]);
  });

  it('names the outputs of each file as mkosi 14 names them', () => {
    const [disk, tar] = load(dir).images.map((image) => image.loaded.config);
    expect(path.basename(disk!.Output)).toBe('disk.raw');
    expect(path.basename(tar!.Output)).toBe('image.tar.xz');
  });

  it('selects images by name or file name, and names the images there are', () => {
    const { images } = load(dir);
    expect(selectImages(images, ['b-tar']).map((image) => image.name)).toEqual(['b-tar']);
    expect(selectImages(images, ['mkosi.a-disk', 'b-tar']).map((image) => image.name)).toEqual(['a-disk', 'b-tar']);
    expect(() => selectImages(images, ['b-taz'])).toThrow(/no image "b-taz".*/);
    try {
      selectImages(images, ['b-taz']);
    } catch (error) {
      expect((error as UserError).hint).toBe('did you mean b-tar? images: a-disk, b-tar');
    }
  });

  it('refuses two images that would write the same file, before anything is built', () => {
    const clash = project('clash', {
      'mkosi.files/mkosi.one': '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\nChecksum=yes\nImageId=one\n',
      'mkosi.files/mkosi.two': '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\nChecksum=yes\nImageId=two\n',
      'mkosi.files/mkosi.three': '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\nImageId=two\n',
    });
    const { images } = load(clash);
    expect(() => checkDistinctOutputs(images, show)).toThrow(ConfigErrors);
    try {
      checkDistinctOutputs(images, show);
    } catch (error) {
      expect((error as ConfigErrors).errors.map((e) => e.message)).toEqual([
        'images three and two would both write clash/two.tar.xz, clash/two.tar.xz.manifest',
        'images one and two would both write clash/SHA256SUMS',
      ]);
    }
    expect(() => checkDistinctOutputs(selectImages(images, ['one', 'three']), show)).not.toThrow();
  });

  it('reports the problems of every file at once, each with its file and line', () => {
    const broken = project('broken', {
      'mkosi.files/mkosi.one': '[Distribution]\nDistributon=debian\n',
      'mkosi.files/mkosi.two': '[Output]\nFormat=tarball\n',
    });
    expect(() => load(broken)).toThrow(ConfigErrors);
    try {
      load(broken);
    } catch (error) {
      const messages = (error as ConfigErrors).errors.map((e) => e.message);
      expect(messages[0]).toMatch(/^mkosi\.files\/mkosi\.one:2: unknown key Distributon=/);
      expect(messages[1]).toMatch(/^mkosi\.files\/mkosi\.two:2: /);
    }
  });

  it('says what is missing when there is no mkosi.files/ or nothing in it', () => {
    expect(() => load(project('none', { 'mkosi.default': '' }))).toThrow('--all: the directory none/mkosi.files does not exist');
    expect(() => load(project('empty', { 'mkosi.files/README': '' }))).toThrow('--all: empty/mkosi.files has no mkosi.* files');
  });
});

describe('the width of kiln --all', () => {
  it('is one build per core, no more than images, and what memory carries', () => {
    expect(defaultWidth(3, 2, 20 * GiB)).toBe(2);
    expect(defaultWidth(1, 8, 20 * GiB)).toBe(1);
    expect(defaultWidth(8, 8, 3.5 * GiB)).toBe(3);
    expect(defaultWidth(8, 8, 0.5 * GiB)).toBe(1);
  });

  it('is what --jobs says, and --jobs must be a whole number', () => {
    expect(queueWidth(3, '1')).toBe(1);
    expect(queueWidth(3, '8')).toBe(3);
    expect(() => queueWidth(3, '0')).toThrow(UserError);
    expect(() => queueWidth(3, 'many')).toThrow('--jobs=many: expected a whole number of builds at once, 1 or more');
  });

  it('reads --all, --all-directory, --image (repeated or with commas), --jobs and --fail-fast', () => {
    const args = parseArguments(['--all', '--all-directory=images', '--image', 'a,b', '--image=c', '-j', '2', '--fail-fast', 'build'], VERBS);
    expect([args.all, args.allDirectory, args.images, args.jobs, args.failFast]).toEqual([true, 'images', ['a', 'b', 'c'], '2', true]);
  });
});
