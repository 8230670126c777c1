/**
 * Issue 14, the rest of mkosi 14's build-script contract, on a minimal Debian project: the prepare,
 * postinst and finalize scripts run in both phases with "build" then "final"; the script's
 * environment and mounts ($SRCDIR, $DESTDIR, $BUILDDIR, IncludeDirectory=, a private network);
 * InstallDirectory= and SourceFileTransferFinal=; $DESTDIR never writes through a link out of the
 * image; `clean -f` empties the build directories; mistakes are one line before anything is built.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, mountsUnder, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject, writeScript, writeTree } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn']);

/** The lines the build script printed after its prefix. */
function probed(stdout: string, prefix: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
}

const MARK = (name: string) => `#!/bin/sh\nset -e\nmkdir -p /etc/kiln-phases\ntouch "/etc/kiln-phases/${name}-$1"\n`;

const BUILD_SCRIPT = `#!/bin/sh
set -e
echo "script-args: $*"
echo "script-env: SRCDIR=$SRCDIR DESTDIR=$DESTDIR BUILDDIR=$BUILDDIR WITH_DOCS=$WITH_DOCS WITH_TESTS=$WITH_TESTS WITH_NETWORK=$WITH_NETWORK FROM_ENVIRONMENT=$FROM_ENVIRONMENT"
echo "script-config: $MKOSI_CONFIG $MKOSI_DEFAULT"
echo "script-pwd: $(pwd)"
echo "script-phases: $(ls /etc/kiln-phases | tr '\\n' ' ')"
echo "script-net: $(ls /sys/class/net | tr '\\n' ' ')"
echo "script-include: $(cat /usr/include/kiln-test.h)"
echo "script-var-tmp: $(ls -A /var/tmp | wc -l)"
echo run >> "$BUILDDIR/runs"
echo "script-runs: $(wc -l < "$BUILDDIR/runs")"
mkdir -p "$DESTDIR/usr/share/kiln-dest" "$DESTDIR/opt/escape"
echo "from the build script" > "$DESTDIR/usr/share/kiln-dest/hello"
echo "must stay in the image" > "$DESTDIR/opt/escape/pwned"
`;

describe.skipIf(skip)('build scripts: phases, directories and mounts', () => {
  let dir: string;
  let cache: string;
  let outside: string;
  const image = () => path.join(dir, 'image');
  const run = (...args: string[]) => kiln(['--cache', cache, ...args], { cwd: dir, env: { FROM_ENVIRONMENT: 'passed' } });
  const ok = async (...args: string[]) => {
    const result = await run(...args);
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    return result;
  };

  beforeAll(() => {
    cache = mkdtempSync(path.join(os.tmpdir(), 'kiln-build-phases-cache-'));
    execFileSync('sh', ['-c', `mkdir -p "${cache}/debian~bookworm" && cp -al "${TEST_CACHE}/debian~bookworm/packages" "${cache}/debian~bookworm/" 2>/dev/null || true`]);
    // A directory on the host that a link in the image names: $DESTDIR must not write into it.
    outside = mkdtempSync(path.join(os.tmpdir(), 'kiln-escape-'));
    dir = minimalProject({ content: ['BuildDirectory=mkosi.builddir', 'SourceFileTransferFinal=copy-all', 'Environment=FROM_ENVIRONMENT'].join('\n') });
    writeScript(dir, 'mkosi.prepare', MARK('prepare'));
    writeScript(dir, 'mkosi.postinst', MARK('postinst'));
    writeScript(dir, 'mkosi.finalize', '#!/bin/sh\nset -e\nmkdir -p "$BUILDROOT/etc/kiln-phases"\ntouch "$BUILDROOT/etc/kiln-phases/finalize-$1"\n');
    writeScript(dir, 'mkosi.build', BUILD_SCRIPT);
    writeTree(path.join(dir, 'mkosi.includedir'), { 'kiln-test.h': '#define KILN_TEST 1' });
    mkdirSync(path.join(dir, 'mkosi.installdir'));
    mkdirSync(path.join(dir, 'mkosi.skeleton/opt'), { recursive: true });
    symlinkSync(outside, path.join(dir, 'mkosi.skeleton/opt/escape'));
  });

  afterAll(() => {
    for (const d of [dir, cache, outside]) rmSync(d, { recursive: true, force: true });
  });

  it('runs the scripts with "build" in the development image, then "final" in the image', async () => {
    const { stdout, stderr } = await ok('-i', 'build', 'first', 'second');
    // Both roots are made here (a cache of its own): the development image's is bootstrapped, and
    // cached before its prepare script runs; the image has the same packages (no BuildPackages=), so
    // its root starts from that one and runs only the prepare script, with "final".
    expect(stderr).toMatch(/^‣ Installing packages \(development image\) \(\d+(\.\d)?s\)$/m);
    expect(stderr).toMatch(/^‣ Saving the cached root [0-9a-f]{16} \(without the prepare script\) \(development image\) /m);
    expect(stderr.match(/^‣ Installing packages /gm)).toHaveLength(1);
    expect(stderr).toMatch(/^‣ Using the cached root [0-9a-f]{16} without the prepare script; running mkosi\.prepare \(\d/m);
    // prepare, postinst and finalize ran in the development image before the build script.
    expect(probed(stdout, 'script-phases: ')).toEqual(['finalize-build postinst-build prepare-build ']);
    expect(readdirSync(path.join(image(), 'etc/kiln-phases')).sort()).toEqual(['finalize-final', 'postinst-final', 'prepare-final']);
  });

  it('gives the script mkosi 14\'s environment and mounts, and a private network', async () => {
    const { stdout } = await ok('-i', '-f', 'build', 'first', 'second');
    expect(probed(stdout, 'script-args: ')).toEqual(['first second']);
    expect(probed(stdout, 'script-env: ')).toEqual([
      'SRCDIR=/root/src DESTDIR=/root/dest BUILDDIR=/root/build WITH_DOCS=0 WITH_TESTS=1 WITH_NETWORK=0 FROM_ENVIRONMENT=passed',
    ]);
    const config = path.join(dir, 'mkosi.default');
    expect(probed(stdout, 'script-config: ')).toEqual([`${config} ${config}`]);
    expect(probed(stdout, 'script-pwd: ')).toEqual(['/root/src']);
    expect(probed(stdout, 'script-net: ')).toEqual(['lo ']);
    expect(probed(stdout, 'script-include: ')).toEqual(['#define KILN_TEST 1']);
    expect(probed(stdout, 'script-var-tmp: ')).toEqual(['0']);
    // $BUILDDIR is kept on the host between builds.
    expect(probed(stdout, 'script-runs: ')).toEqual(['2']);
    expect(readFileSync(path.join(dir, 'mkosi.builddir/debian~bookworm/runs'), 'utf8')).toBe('run\nrun\n');
  });

  it('copies $DESTDIR into the image, keeps it in InstallDirectory=, and SourceFileTransferFinal= copies the sources', () => {
    expect(readFileSync(path.join(image(), 'usr/share/kiln-dest/hello'), 'utf8')).toBe('from the build script\n');
    expect(readFileSync(path.join(dir, 'mkosi.installdir/usr/share/kiln-dest/hello'), 'utf8')).toBe('from the build script\n');
    expect(existsSync(path.join(image(), 'root/src/mkosi.build'))).toBe(true);
    // Outputs, caches and build directories are never among the sources.
    for (const name of ['image', 'image.manifest', 'mkosi.builddir', 'mkosi.installdir', 'mkosi.includedir']) {
      expect(existsSync(path.join(image(), 'root/src', name)), name).toBe(false);
    }
  });

  it('never writes through a link in the image out of it', () => {
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(path.join(image(), outside, 'pwned'), 'utf8')).toBe('must stay in the image\n');
  });

  it('clean -f empties BuildDirectory= and InstallDirectory=, as mkosi 14 does', async () => {
    await ok('-f', 'clean');
    expect(readdirSync(path.join(dir, 'mkosi.builddir/debian~bookworm'))).toEqual([]);
    expect(readdirSync(path.join(dir, 'mkosi.installdir'))).toEqual([]);
    expect(existsSync(image())).toBe(false);
    expect(workspacesIn(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
  });

  it('refuses mistakes in one line each before anything is built', async () => {
    const broken = minimalProject();
    try {
      writeScript(broken, 'mkosi.build', '#!/bin/sh\ntrue\n');
      chmodSync(path.join(broken, 'mkosi.build'), 0o644);
      let result = await kiln(['build'], { cwd: broken });
      expect(result.stderr).toContain('kiln: error: mkosi.build: is not executable (kiln runs it as BuildScript=)\n');
      chmodSync(path.join(broken, 'mkosi.build'), 0o755);

      result = await kiln(['--build-sources=no-such-sources', 'build'], { cwd: broken });
      expect(result.stderr).toContain('kiln: error: command line: BuildSources=no-such-sources does not exist\n');

      result = await kiln(['--source-file-transfer=copy-git-cached', 'build'], { cwd: broken });
      expect(result.stderr).toContain(`kiln: error: SourceFileTransfer=copy-git-cached needs a git work tree, but BuildSources=${broken} is not in one\n`);
      for (const failed of [result]) expect(failed.status).toBe(1);
      expect(workspacesIn(broken)).toEqual([]);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
