/**
 * Issue 14: mkosi 14's two-phase build with images/build-from-source. A development image with the
 * compiler runs mkosi.build; the image gets what it installed into $DESTDIR, and no compiler. With
 * -i, editing one .c file recompiles that file alone (the persistent $BUILDDIR) and the image has the
 * new behaviour; -T, SkipFinalPhase=, every SourceFileTransfer= mode and a changed BuildPackages=
 * run against the same cached development image, so the file builds each image once.
 *
 * The compiler is tcc rather than the definition's gcc (a tenth of the packages to install): what is
 * proven is the build script's part, not gcc. The image's root is the minimal root every minimal
 * project shares (TEST_CACHE), copied into this file's own cache (helpers/private-cache.ts); the
 * development image is made here by extending it. A development image bootstrapped from nothing is build-script-phases' first test.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, makeProject, mountsUnder, processesMentioning, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { cacheWithMinimalRoot, ROOTS } from './helpers/private-cache.js';
import { nspawn } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', 'git']);

/** A cache of its own, so that this file's development images are made, and extended, here. */
async function freshCache(): Promise<string> {
  return (await cacheWithMinimalRoot('kiln-build-script-cache-')).cache;
}

function git(dir: string, ...args: string[]): void {
  execFileSync('git', ['-C', dir, '-c', 'user.name=kiln', '-c', 'user.email=kiln@localhost', ...args], { stdio: 'pipe' });
}

/** The lines a probe script printed after its prefix. */
function probed(stdout: string, prefix: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
}

describe.skipIf(skip)('build scripts: images/build-from-source', () => {
  let dir: string;
  let cache: string;
  let scripts: string;
  const image = () => path.join(dir, 'image');
  // Without the base packages (systemd and friends, which the image carries so that it boots): the
  // file builds both images three times over, and what it proves is the build script's part. The
  // image as the directory defines it is built by the benchmark (bench: build-first).
  const run = (...args: string[]) => kiln(['--cache', cache, '--base-packages=no', ...args], { cwd: dir });
  const ok = async (...args: string[]) => {
    const result = await run(...args);
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    return result;
  };
  const greet = () => nspawn(image(), ['/usr/bin/hello-kiln', 'kiln']).trim();
  const editGreeting = (text: string) => {
    const file = path.join(dir, 'src/greeting.c');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/printf\(".*\\n"/, `printf("${text}\\n"`));
  };

  beforeAll(async () => {
    dir = makeProject('build-from-source');
    chmodSync(dir, 0o755);
    const config = path.join(dir, 'mkosi.default');
    const definition = readFileSync(config, 'utf8');
    expect(definition).toMatch(/^BuildPackages=gcc,make,libc6-dev$/m);
    writeFileSync(config, definition.replace(/^BuildPackages=.*$/m, 'BuildPackages=tcc,make,libc6-dev\nEnvironment=CC=tcc'));
    cache = await freshCache();
    scripts = mkdtempSync(path.join(os.tmpdir(), 'kiln-it-scripts-'));
    // What each SourceFileTransfer= mode let into /root/src, and whether bc is there (BuildPackages=).
    writeFileSync(
      path.join(scripts, 'probe'),
      [
        '#!/bin/sh',
        'echo "probe-pwd: $(pwd) $SRCDIR"',
        'find . -path ./.git -prune -o -path "./.kiln-build-*" -prune -o -type f -print | sed "s|^./|probe-file: |"',
        '[ -d .git ] && echo "probe-git: yes"',
        'find . -maxdepth 1 -name ".kiln-build-*" -exec sh -c \'echo "probe-workspace: $(ls -A "$1" 2>&1 | wc -l)"\' sh {} \\;',
        'echo "probe-mtime: $(stat -c %Y src/main.c)"',
        'echo "probe-bc: $(command -v bc || echo none)"',
        'touch "$SRCDIR/written-by-probe" 2>/dev/null || true',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    writeFileSync(path.join(scripts, 'fail'), '#!/bin/sh\necho "compiling widget.c"\necho "widget.c:3: error: expected ;" >&2\nexit 7\n', { mode: 0o755 });
  });

  afterAll(() => {
    for (const d of [dir, cache, scripts]) rmSync(d, { recursive: true, force: true });
  });

  it('builds the program in a development image and installs it into an image without the compiler', async () => {
    const { stdout, stderr } = await ok('-i', 'build');
    // The development image is the image's root with the compiler added; the image's root is a hit.
    expect(stderr).toMatch(/Extending the cached root [0-9a-f]{16} with [^\n]*\btcc\b[^\n]* \(development image\)/);
    expect(stderr).toMatch(/^‣ Using the cached root [0-9a-f]{16} /m);
    expect(stderr).not.toContain('Installing packages');
    expect(stdout).toMatch(/-c -o \/root\/build\/main\.o src\/main\.c/);
    expect(stdout).toMatch(/-c -o \/root\/build\/greeting\.o src\/greeting\.c/);
    expect(stdout).toContain('PASS: hello-kiln (2 checks)');
    expect(greet()).toBe('Hello, kiln, from a program built by a kiln build script.');
    for (const file of ['usr/bin/tcc', 'usr/bin/make', 'usr/include/stdio.h', 'root/src', 'root/dest', 'root/build']) {
      expect(existsSync(path.join(image(), file)), file).toBe(false);
    }
    // The development image, with the compiler, is in the cache under a key of its own.
    const roots = path.join(cache, ROOTS);
    const entries = execFileSync('ls', [roots], { encoding: 'utf8' }).split('\n').filter((name) => /^[0-9a-f]{16}$/.test(name));
    expect(entries).toHaveLength(2);
    expect(entries.filter((key) => existsSync(path.join(roots, key, 'root/usr/bin/tcc')))).toHaveLength(1);
    // $BUILDDIR is on the host, with the distribution and release in its name.
    expect(existsSync(path.join(dir, 'mkosi.builddir/debian~bookworm/greeting.o'))).toBe(true);
  });

  it('with -i, after one .c file changed, recompiles only that file and the image has the new behaviour', async () => {
    editGreeting('Hello, %s, from the edited greeting.');
    const { stdout, stderr } = await ok('-i', '-f', 'build');
    expect(stderr).not.toContain('Installing packages');
    expect(stderr).toMatch(/Using the cached root [0-9a-f]{16} \(development image\)/);
    expect(stdout).toMatch(/-c -o \/root\/build\/greeting\.o src\/greeting\.c/);
    expect(stdout).not.toMatch(/main\.c/);
    expect(greet()).toBe('Hello, kiln, from the edited greeting.');
  });

  it('makes the next image from the one the last build replaced, brought back to the cached root', async () => {
    // The image the rebuild replaced was kept as this output's spare (src/cache/spare.ts), not deleted.
    const roots = path.join(cache, ROOTS);
    const spares = () => readdirSync(roots).filter((name) => name.startsWith('spare-'));
    expect(spares()).toHaveLength(1);
    // What a user may have done to that image: a file changed in place keeping its size and time, one added.
    const spare = path.join(roots, spares()[0]!);
    const osRelease = path.join(spare, 'usr/lib/os-release');
    const { atime, mtime } = statSync(osRelease);
    writeFileSync(osRelease, readFileSync(osRelease, 'utf8').replace(/[a-z]/g, 'x'));
    utimesSync(osRelease, atime, mtime);
    writeFileSync(path.join(spare, 'etc/left-by-user'), 'x');
    editGreeting('Hello, %s, edited twice.');
    await ok('-i', '-f', 'build');
    expect(greet()).toBe('Hello, kiln, edited twice.');
    expect(readFileSync(path.join(image(), 'usr/lib/os-release'), 'utf8')).toMatch(/^ID=debian$/m);
    expect(existsSync(path.join(image(), 'etc/left-by-user'))).toBe(false);
    // The image just replaced is the spare now.
    expect(spares()).toHaveLength(1);
    expect(readFileSync(path.join(roots, spares()[0]!, 'usr/bin/hello-kiln')).includes('edited greeting')).toBe(true);
  });

  it('-T gives the script WITH_TESTS=0, and SkipFinalPhase=yes stops after it', async () => {
    editGreeting('Hello, %s, never in the image.');
    const { stdout, stderr } = await ok('-i', '-T', '--skip-final-phase', 'build');
    expect(stdout).toContain('tests skipped (WITH_TESTS=0)');
    expect(stdout).not.toContain('PASS');
    expect(stderr).toContain('Skipping the final phase (SkipFinalPhase=yes)');
    // The image of the previous build is left as it was (no -f was needed either).
    expect(greet()).toBe('Hello, kiln, edited twice.');
  });

  it('copies the sources as each SourceFileTransfer= mode says (a git repository with ignored and untracked files)', async () => {
    writeFileSync(path.join(dir, '.gitignore'), `${readFileSync(path.join(dir, '.gitignore'), 'utf8')}/ignored.txt\n`);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'sources');
    writeFileSync(path.join(dir, 'ignored.txt'), 'git ignores me\n');
    writeFileSync(path.join(dir, 'untracked.txt'), 'git does not know me\n');
    const tracked = execFileSync('git', ['-C', dir, 'ls-files'], { encoding: 'utf8' }).trim().split('\n').sort();
    const mtime = Math.floor(statSync(path.join(dir, 'src/main.c')).mtimeMs / 1000);

    const seen = async (mode?: string) => {
      const transfer = mode ? [`--source-file-transfer=${mode}`] : [];
      const { stdout } = await ok('-i', '--skip-final-phase', `--build-script=${path.join(scripts, 'probe')}`, ...transfer, 'build');
      expect(probed(stdout, 'probe-pwd: ')).toEqual(['/root/src /root/src']);
      return { files: probed(stdout, 'probe-file: ').sort(), git: probed(stdout, 'probe-git: ').length > 0, stdout };
    };

    const all = await seen('copy-all');
    expect(all.files).toEqual([...tracked, 'ignored.txt', 'untracked.txt'].sort());
    expect(all.git).toBe(false);
    // Modification times are kept: that is what lets make skip unchanged files.
    expect(probed(all.stdout, 'probe-mtime: ')).toEqual([String(mtime)]);

    expect((await seen('copy-git-cached')).files).toEqual(tracked);
    const others = await seen('copy-git-others');
    expect(others.files).toEqual([...tracked, 'untracked.txt'].sort());
    expect(others.git).toBe(false);
    // mkosi 14's default in a git repository.
    expect((await seen()).files).toEqual(others.files);
    const more = await seen('copy-git-more');
    expect(more.files).toEqual(tracked);
    expect(more.git).toBe(true);

    const mounted = await seen('mount');
    expect(mounted.files).toEqual(expect.arrayContaining(['ignored.txt', 'untracked.txt', 'image/usr/bin/hello-kiln']));
    // The build's own workspace, inside the sources, is hidden from the script.
    expect(probed(mounted.stdout, 'probe-workspace: ')).toEqual(['0']);
    expect(existsSync(path.join(dir, 'written-by-probe'))).toBe(true);
  });

  it('rebuilds the development image when BuildPackages= changes', async () => {
    const { stdout, stderr } = await ok('-i', '--skip-final-phase', `--build-script=${path.join(scripts, 'probe')}`, '--build-package=bc', 'build');
    expect(stderr).toMatch(/Extending the cached root [0-9a-f]{16} with bc \(development image\)/);
    expect(probed(stdout, 'probe-bc: ')).toEqual(['/usr/bin/bc']);
  });

  it('reports a failing build script like a failing postinst and leaves nothing behind', async () => {
    const before = greet();
    const result = await run('-i', '-f', `--build-script=${path.join(scripts, 'fail')}`, 'build');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kiln: error: fail failed with exit code 7\n');
    expect(result.stderr).toContain('│ widget.c:3: error: expected ;');
    expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(workspacesIn(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(greet()).toBe(before);
  });
});
