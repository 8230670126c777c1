/**
 * kiln's tar writer against the real readers: a tree holding every kind of entry is archived with
 * each compression, imported with systemd-import (what `machinectl import-tar` runs) or extracted
 * with GNU tar as systemd-import does it, and the result is compared with the source using find,
 * stat, getfattr and cmp.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTarFile } from '../../src/archive/archive-file.js';
import { KilnError, ToolError } from '../../src/errors.js';
import { debianFixture } from './disk-helpers.js';
import { needs, unavailable } from '../skip.js';

const IMPORT = '/lib/systemd/systemd-import';
const TOOLS = ['mmdebstrap', 'getfattr', 'setfattr', 'setfacl', 'setcap', 'mknod', 'mkfifo', 'xz', 'zstd', 'gzip', 'tar', 'cmp', 'sha256sum', 'python3'];
const skip = unavailable(needs([IMPORT, ...TOOLS]));

function sh(command: string, args: readonly string[], options: { cwd?: string; input?: Buffer } = {}): Buffer {
  return execFileSync(command, args, { cwd: options.cwd, input: options.input, maxBuffer: 512 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A tree with one of everything tar and systemd-import must carry. */
function makeTree(root: string): void {
  const script = String.raw`
    set -e
    cd "$1"
    mkdir -p usr/lib usr/bin etc tmp srv/shared srv/empty dev run var/lib 'odd names' deep
    printf 'ID=kilntest\nNAME="kiln test tree"\n' > usr/lib/os-release
    ln -s ../usr/lib/os-release etc/os-release
    printf 'tool\0binary\377' > usr/bin/tool && chmod 4755 usr/bin/tool
    printf 'pretend ping' > usr/bin/ping && chmod 755 usr/bin/ping && setcap cap_net_raw+ep usr/bin/ping
    : > etc/empty
    printf 'secret\n' > etc/shadow && chmod 000 etc/shadow
    truncate -s 40M var/lib/big.img
    head -c 1048576 /dev/urandom | dd of=var/lib/big.img conv=notrunc status=none
    printf 'middle' | dd of=var/lib/big.img bs=1 seek=20000000 conv=notrunc status=none
    printf 'tail' | dd of=var/lib/big.img bs=1 seek=41943036 conv=notrunc status=none
    printf 'shared inode' > usr/bin/hard-a && ln usr/bin/hard-a usr/bin/hard-b && ln usr/bin/hard-a srv/hard-c
    ln -s tool usr/bin/relative-link
    ln -s /usr/bin/tool usr/bin/absolute-link
    ln -s /nonexistent/target usr/bin/dangling-link
    ln -s "/$(printf 'long/%.0s' $(seq 1 30))target" usr/bin/long-link
    mknod dev/null-like c 1 3 && mknod dev/disk b 8 1 && mknod dev/big-minor c 240 70000
    mkfifo run/fifo
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' run/socket
    chmod 1777 tmp
    chown 1000:1000 srv/shared && chmod 2775 srv/shared
    printf 'in shared' > srv/shared/file && chown 1000:100 srv/shared/file
    printf 'nobody' > srv/nobody && chown 65534:65534 srv/nobody
    printf 'mapped' > srv/mapped && chown 524288:524289 srv/mapped
    setfattr -n user.comment -v 'hello world' usr/bin/tool
    setfattr -n user.binary -v 0x00ff80017f usr/bin/tool
    setfattr -n user.empty -v '' etc/empty
    setfattr -n user.on-dir -v yes srv/shared
    setfattr -n 'user.with=equals' -v x etc/empty
    setfacl -m u:1000:rwx srv/shared && setfacl -d -m g:100:rx srv/shared
    printf 1 > 'odd names/with space'
    printf 2 > 'odd names/ünïcödé ☃'
    printf 3 > "odd names/quote'\"and\\backslash"
    printf 4 > "odd names/$(printf 'x%.0s' $(seq 1 200))"
    printf 5 > 'odd names/equals=sign'
    d=deep; for i in $(seq 1 40); do d="$d/level-$i"; done; mkdir -p "$d" && printf deep > "$d/leaf"
    touch -h -d '2001-02-03 04:05:06' usr/bin/relative-link
    touch -d '1999-12-31 23:59:59' etc/empty
    touch -d '2010-01-01 00:00:00' srv/empty 'odd names' srv
    touch -d '2020-05-05 05:05:05' .
  `;
  sh('bash', ['-c', script, 'make-tree', root]);
}

interface Listing {
  readonly entries: string[];
  readonly devices: string[];
  readonly hardLinks: string[];
  readonly xattrs: string[];
  readonly files: string[];
}

/** What a tree is, in the words of find, stat and getfattr (directory sizes depend on the file system). */
function describeTree(dir: string): Listing {
  const fields = sh('find', ['.', '-printf', '%P\\0%y %m %U %G %n %Ts %s\\0%l\\0', ], { cwd: dir }).toString().split('\0');
  const entries: string[] = [];
  const files: string[] = [];
  const devices: string[] = [];
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [name, attributes, link] = [fields[i]!, fields[i + 1]!, fields[i + 2]!];
    const kind = attributes.split(' ')[0];
    const shown = kind === 'd' ? attributes.replace(/ \d+$/, ' -') : attributes;
    entries.push(`${name} | ${shown} | ${link}`);
    if (kind === 'f') files.push(name);
    if (kind === 'b' || kind === 'c') devices.push(name);
  }
  const deviceNumbers = devices.length === 0 ? [] : sh('stat', ['--printf', '%n %F %t:%T\\n', ...devices], { cwd: dir }).toString().trim().split('\n');
  const inodes = new Map<string, string[]>();
  const pairs = sh('find', ['.', '!', '-type', 'd', '-links', '+1', '-printf', '%i\\0%P\\0'], { cwd: dir }).toString().split('\0');
  for (let i = 0; i + 1 < pairs.length; i += 2) inodes.set(pairs[i]!, [...(inodes.get(pairs[i]!) ?? []), pairs[i + 1]!]);
  const hardLinks = [...inodes.values()].map((names) => names.sort().join(' = ')).sort();
  const dump = sh('getfattr', ['-R', '-d', '-m', '-', '-e', 'hex', '-h', '.'], { cwd: dir }).toString();
  const xattrs = dump.split('\n\n').map((block) => block.trim()).filter(Boolean).sort();
  return { entries: entries.sort(), devices: deviceNumbers.sort(), hardLinks, xattrs, files: files.sort() };
}

/**
 * The copy holds what the source holds, sockets excepted (tar cannot carry them). Contents are
 * compared with cmp, or for a large tree with one sha256sum listing per side.
 */
function expectSameTree(source: string, copy: string, contents: 'cmp' | 'sha256sum' = 'cmp'): void {
  const want = describeTree(source);
  const got = describeTree(copy);
  expect(got.entries).toEqual(want.entries.filter((entry) => !/^[^|]* \| s /.test(entry)));
  expect(got.devices).toEqual(want.devices);
  expect(got.hardLinks).toEqual(want.hardLinks);
  expect(got.xattrs).toEqual(want.xattrs);
  if (contents === 'cmp') {
    for (const file of want.files) sh('cmp', [path.join(source, file), path.join(copy, file)]);
  } else {
    const sums = (dir: string) => sh('find', ['.', '-type', 'f', '-exec', 'sha256sum', '{}', '+'], { cwd: dir }).toString().split('\n').sort();
    expect(sums(copy)).toEqual(sums(source));
  }
}

describe.skipIf(skip)('tar archives of a tree with every kind of entry', () => {
  let work: string;
  let tree: string;
  let source: Listing;

  beforeAll(() => {
    work = mkdtempSync('/var/tmp/kiln-tar-test-');
    tree = path.join(work, 'tree');
    sh('mkdir', [tree]);
    makeTree(tree);
    source = describeTree(tree);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds the fixture it means to (guards the comparisons below)', () => {
    expect(source.xattrs.join('\n')).toContain('security.capability=0x');
    expect(source.xattrs.join('\n')).toContain('system.posix_acl_default=0x');
    expect(source.hardLinks).toEqual(['srv/hard-c = usr/bin/hard-a = usr/bin/hard-b']);
    expect(source.devices).toEqual(['dev/big-minor character special file f0:11170', 'dev/disk block special file 8:1', 'dev/null-like character special file 1:3']);
    expect(source.entries.some((entry) => entry.startsWith('run/socket | s'))).toBe(true);
  });

  for (const compression of ['xz', 'gz', false] as const) {
    it(`is imported by systemd-import unchanged (${compression || 'uncompressed'})`, async () => {
      const file = path.join(work, `image-${compression || 'plain'}.tar${compression ? `.${compression}` : ''}`);
      const sha256 = await writeTarFile(tree, file, { compression, checksum: true });
      expect(sha256).toBe(sh('sha256sum', [file]).toString().split(' ')[0]);
      expect(statSync(file).mode & 0o777).toBe(0o644);

      const images = path.join(work, `import-${compression || 'plain'}`);
      sh('mkdir', [images]);
      sh(IMPORT, [`--image-root=${images}`, 'tar', file, 'kilntest']);
      expectSameTree(tree, path.join(images, 'kilntest'));
    });
  }

  it('is read by zstd and GNU tar (systemd 252 cannot import zstd)', async () => {
    const file = path.join(work, 'image.tar.zst');
    const sha256 = await writeTarFile(tree, file, { compression: 'zstd', checksum: true });
    expect(sha256).toBe(sh('sha256sum', [file]).toString().split(' ')[0]);
    const plain = sh('zstd', ['-dc', file]);
    expect(sh('tar', ['-t'], { input: plain }).toString()).toContain('./usr/bin/ping\n');
    // The same extraction systemd-import runs (src/import/import-common.c).
    const out = path.join(work, 'zstd-extracted');
    sh('mkdir', [out]);
    sh('tar', ['--ignore-zeros', '--numeric-owner', '-C', out, '-px', '--xattrs', '--xattrs-include=*', '--no-selinux'], { input: plain });
    expectSameTree(tree, out);
  });

  it('lists xattrs, numeric owners and links to GNU tar without a warning', async () => {
    const file = path.join(work, 'listing.tar');
    await writeTarFile(tree, file, { compression: false, checksum: false });
    const result = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-tvvvf', file]);
    expect(result.stderr.toString()).toBe('');
    const listing = result.stdout.toString();
    expect(listing).toMatch(/^-rwxr-xr-x\* 0\/0 .* \.\/usr\/bin\/ping\n {2}x: 20 security\.capability$/m);
    expect(listing).toMatch(/^-rwsr-xr-x\* 0\/0 .* \.\/usr\/bin\/tool\n {2}x: 5 user\.binary\n {2}x: 11 user\.comment$/m);
    expect(listing).toMatch(/^drwxrwsr-x\* 1000\/1000 .* \.\/srv\/shared\n {2}x: 44 system\.posix_acl_access\n {2}x: 44 system\.posix_acl_default\n {2}x: 3 user\.on-dir$/m);
    expect(listing).toMatch(/^-rw-r--r-- +524288\/524289 .* \.\/srv\/mapped$/m);
    expect(listing).toMatch(/^hrw-r--r-- +0\/0 .* \.\/usr\/bin\/hard-b link to \.\/srv\/hard-c$/m);
    expect(listing).toMatch(/^crw-r--r-- +0\/0 +240,70000 .* \.\/dev\/big-minor$/m);
    expect(listing).toMatch(/^prw-r--r-- +0\/0 .* \.\/run\/fifo$/m);
    expect(listing).not.toContain('run/socket');
    // Sorted by name, directories before their contents, the tree at the top of the archive.
    const names = sh('tar', ['-tf', file]).toString().trim().split('\n');
    expect(names[0]).toBe('./');
    expect(names.slice(0, 4)).toEqual(['./', './deep', './deep/level-1', './deep/level-1/level-2']);
    expect(names).toContain('./usr/lib/os-release');
  });

  it('writes the same bytes for the same tree', async () => {
    const first = await writeTarFile(tree, path.join(work, 'again-1.tar'), { compression: false, checksum: true });
    const second = await writeTarFile(tree, path.join(work, 'again-2.tar'), { compression: false, checksum: true });
    expect(second).toBe(first);
  });

  it('leaves out security.selinux when asked to', async () => {
    const marked = path.join(work, 'selinux');
    sh('mkdir', [marked]);
    writeFileSync(path.join(marked, 'file'), 'x');
    // Without SELinux in the kernel, security.selinux is an ordinary attribute root may set.
    const labelled = spawnSync('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:etc_t:s0', path.join(marked, 'file')]);
    // Outside CI, where SELinux may refuse, the rest still proves that the option breaks nothing.
    unavailable(labelled.status === 0 ? undefined : `needs to set security.selinux (${labelled.stderr.toString().trim()})`);
    const list = async (strip: boolean): Promise<string> => {
      const file = path.join(work, `selinux-${strip}.tar`);
      await writeTarFile(marked, file, { compression: false, checksum: false, stripSELinuxContext: strip });
      return sh('tar', ['--xattrs', '--xattrs-include=*', '-tvvvf', file]).toString();
    };
    expect(await list(true)).not.toContain('security.selinux');
    if (labelled.status === 0) expect(await list(false)).toContain('security.selinux');
  });

  it('reports a failing compressor by name and leaves no partial file', async () => {
    const fakes = path.join(work, 'fake-bin');
    sh('mkdir', [fakes]);
    writeFileSync(path.join(fakes, 'xz'), '#!/bin/sh\nhead -c 100000 >/dev/null\necho "xz: simulated failure" >&2\nexit 3\n', { mode: 0o755 });
    const file = path.join(work, 'broken.tar.xz');
    const failure = writeTarFile(tree, file, { compression: 'xz', checksum: true, searchPaths: [fakes] });
    const error = await failure.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).message).toMatch(/^Compressing the archive with xz: xz .*exited with code 3$/);
    expect((error as ToolError).stderrTail).toBe('xz: simulated failure');
    expect(existsSync(file)).toBe(false);
  });

  it('gives a one-line error and no file for a root that does not exist', async () => {
    const file = path.join(work, 'none.tar.gz');
    await expect(writeTarFile(path.join(work, 'no-such-root'), file, { compression: 'gz', checksum: true })).rejects.toThrow(KilnError);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(path.join(tree, 'usr/lib/os-release'), 'utf8')).toContain('kilntest');
  });
});

describe.skipIf(skip)('a real Debian root', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync('/var/tmp/kiln-tar-debian-');
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is archived as a tar that systemd-import turns back into the same tree', async () => {
    // The tree the disk tests share (mmdebstrap minbase + systemd-sysv, made once and cached).
    // Uncompressed: each compressor is shown on the tree above; xz over a whole root would only add
    // half a minute of CPU to the suite.
    const root = debianFixture();
    const file = path.join(work, 'debian.tar');
    const started = performance.now();
    const sha256 = await writeTarFile(root, file, { compression: false, checksum: true });
    console.info(`kiln tar of ${root}: ${((performance.now() - started) / 1000).toFixed(1)} s, ${statSync(file).size} bytes`);
    expect(sha256).toBe(sh('sha256sum', [file]).toString().split(' ')[0]);

    const images = path.join(work, 'images');
    sh('mkdir', [images]);
    sh(IMPORT, [`--image-root=${images}`, 'tar', file, 'debian']);
    const imported = path.join(images, 'debian');
    expect(readFileSync(path.join(imported, 'usr/lib/os-release'), 'utf8')).toContain('ID=debian');
    expectSameTree(root, imported, 'sha256sum');
  });
});
