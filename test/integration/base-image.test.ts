/**
 * BaseImage=: a system extension built on top of a base image. The base is images/debian-minimal as
 * a directory (from the cached root: -i --cache TEST_CACHE), the extension adds one package and a
 * file, removes a file of the base and replaces a directory of it. Its output must hold those
 * changes alone, without overlayfs' whiteouts or attributes — and systemd-sysext, in a container of
 * the base, must merge it so that the added program runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sh } from './disk-helpers.js';
import { kiln, makeProject, mountsUnder, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { writeScript } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'getfattr', 'setfattr']);

describe.skipIf(skip)('BaseImage=: only the changes to a base image, as a system extension', () => {
  let project: string;
  let log = '';
  const base = (...parts: string[]) => path.join(project, 'base', ...parts);
  const extension = (...parts: string[]) => path.join(project, 'ext', ...parts);

  beforeAll(async () => {
    project = makeProject('debian-minimal');
    const built = await kiln(['-i', '--cache', TEST_CACHE, '--format=directory', '--output=base', '--checksum=no', 'build'], { cwd: project });
    expect(built.status, built.stderr).toBe(0);

    const dir = path.join(project, 'extension');
    const release = readFileSync(base('usr/lib/os-release'), 'utf8');
    const versionId = /^VERSION_ID="?([^"\n]*)"?$/m.exec(release)![1]!;
    mkdirSync(path.join(dir, 'mkosi.extra/usr/lib/extension-release.d'), { recursive: true });
    writeFileSync(path.join(dir, 'mkosi.extra/usr/lib/extension-release.d/extension-release.kiln-ext'), `ID=debian\nVERSION_ID=${versionId}\n`);
    writeFileSync(
      path.join(dir, 'mkosi.default'),
      ['[Distribution]', 'Distribution=debian', '', '[Output]', 'Format=directory', 'Output=../ext', '', '[Partitions]', 'BaseImage=../base', '', '[Content]', 'Packages=hello', ''].join('\n'),
    );
    writeScript(dir, 'mkosi.postinst', [
      '#!/bin/sh',
      'set -e',
      // A file of the base removed (a whiteout in the overlay), a directory of it replaced (opaque).
      'rm /etc/motd',
      'rm -r /etc/apt/apt.conf.d && mkdir /etc/apt/apt.conf.d && echo "// kiln" > /etc/apt/apt.conf.d/99kiln',
      '',
    ].join('\n'));
    const result = await kiln(['--cache', TEST_CACHE, '-i', 'build'], { cwd: dir });
    log = result.stderr;
    expect(result.status, result.stderr).toBe(0);
  });

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('holds what the build added and changed, and none of the base\'s untouched files', () => {
    expect(existsSync(extension('usr/bin/hello'))).toBe(true);
    expect(readFileSync(extension('usr/lib/extension-release.d/extension-release.kiln-ext'), 'utf8')).toMatch(/^ID=debian$/m);
    expect(readFileSync(extension('etc/apt/apt.conf.d/99kiln'), 'utf8')).toBe('// kiln\n');
    for (const file of ['usr/bin/bash', 'usr/bin/less', 'usr/lib/os-release', 'etc/passwd']) {
      expect(existsSync(base(file)), file).toBe(true);
      expect(existsSync(extension(file)), file).toBe(false);
    }
    // The base is untouched.
    expect(existsSync(base('etc/motd'))).toBe(true);
    expect(existsSync(base('usr/bin/hello'))).toBe(false);
    const megabytes = (dir: string): number => Number(sh(['du', '-sm', dir]).split('\t')[0]);
    // A few files and package records: not the base, and not apt's downloaded indexes either.
    expect(megabytes(extension())).toBeLessThan(10);
    expect(sh(['find', extension('var/lib/apt'), '-type', 'f', '-size', '+100k'])).toBe('');
    expect(log).toContain('Incremental= has no effect with BaseImage=');
  });

  it('keeps no whiteouts and no overlayfs attributes, and leaves no mount or workspace', () => {
    expect(existsSync(extension('etc/motd'))).toBe(false);
    expect(sh(['find', extension(), '-type', 'c'])).toBe('');
    const attributes = run(['getfattr', '-R', '-P', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.', extension()]);
    expect(attributes.stdout).toBe('');
    // The replaced directory has only its new contents (the base's files in it are not carried over).
    expect(readdirSync(extension('etc/apt/apt.conf.d'))).toEqual(['99kiln']);
    expect(mountsUnder(project)).toEqual([]);
    expect(workspacesIn(path.join(project, 'extension'))).toEqual([]);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('merges with systemd-sysext in a container of the base, where the added program runs', () => {
    const result = run([
      'systemd-nspawn', '-q', '--register=no', '--keep-unit', '--settings=no', '--resolv-conf=off', '--read-only', '-D', base(),
      `--bind-ro=${extension()}:/run/extensions/kiln-ext`,
      'sh', '-c', 'systemd-sysext merge && hello && systemd-sysext status --no-pager',
    ]);
    expect(result.stdout, result.stderr).toContain('Hello, world!');
    expect(result.stdout).toMatch(/kiln-ext/);
    expect(result.status).toBe(0);
  });

  it('refuses a file as the base in one line, before anything is built', async () => {
    writeFileSync(path.join(project, 'base.raw'), '');
    const result = await kiln(['--base-image=../base.raw', 'build'], { cwd: path.join(project, 'extension') });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kiln: error: .*BaseImage=\S*base\.raw is not a directory: kiln takes the base's root as a directory/);
    expect(workspacesIn(path.join(project, 'extension'))).toEqual([]);
  });
});
