/**
 * Issue 19's proof for `kiln --all`: mkosi.files/ holds three images — a Debian gpt_ext4 disk, a
 * Debian tar and a Fedora tar from the local test repository — sharing the top directory's
 * mkosi.extra/, mkosi.postinst and mkosi.reposdir/ (an apt source and a dnf repository with one
 * more package each). Built side by side on one cache:
 * - each image is what systemd's tools expect (systemd-import, systemd-dissect, systemd-nspawn);
 * - every .deb was downloaded once, though both Debian builds needed it (an HTTP proxy counts);
 * - ManifestFormat=changelog writes the package managers' own changelogs;
 * - when one image's postinst fails, the other two are built and the failing one leaves nothing;
 *   with --fail-fast the others are not even started;
 * - without --incremental, two images of the same root (Fedora's, quick to make) share one bootstrap.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDebRepo } from '../fixtures/repos/deb-repo.js';
import { serveDirectory, type RepoServer } from '../fixtures/repos/http-server.js';
import { fedoraPackages, missingFixtureInput } from '../fixtures/repos/packages.js';
import { buildRpmRepo, RPM_CHANGELOG_ENTRY, type RpmRepo } from '../fixtures/repos/rpm-repo.js';
import { ensureUdev, sh } from './disk-helpers.js';
import { startCountingProxy, type CountingProxy } from './helpers/counting-proxy.js';
import { kiln, mountsUnder, TEST_CACHE, whyNotRoot, workspacesIn, type KilnResult } from './helpers/kiln.js';
import { createScratchDirectory } from '../../src/workspace.js';
import { importTar, nspawn, SYSTEMD_IMPORT } from './helpers/systemd.js';

const skip =
  whyNotRoot(['mmdebstrap', 'dnf', 'rpmbuild', 'createrepo_c', 'dpkg-deb', 'systemd-nspawn', 'systemd-dissect', 'sfdisk', 'mkfs.ext4', SYSTEMD_IMPORT]) ?? missingFixtureInput();

const EXTRA_MARK = '/usr/share/kiln-test-extra/mark';
const DEB_CHANGELOG = 'kiln-test-extra (1.0) unstable; urgency=medium\n\n  * A package from mkosi.reposdir/.\n\n -- kiln tests <kiln-test@localhost>  Mon, 01 Jan 2024 00:00:00 +0000\n';

const POSTINST = `#!/bin/sh
set -e
if test -n "$KILN_FAIL" && test "$KILN_FAIL" = "$KILN_IMAGE"; then
  echo "the postinst of $KILN_IMAGE fails on purpose" >&2
  exit 3
fi
echo "$KILN_IMAGE" > /etc/kiln-all-image
`;

type Sections = Partial<Record<'Distribution' | 'Output' | 'Content' | 'Partitions', readonly string[]>>;

/** One file of mkosi.files/: each image says who it is (for the postinst) and has its own output directory. */
function imageFile(name: string, sections: Sections): string {
  const all: Sections = {
    ...sections,
    Content: [...(sections.Content ?? []), `Environment=KILN_IMAGE=${name}`],
    Output: [...(sections.Output ?? []), `ImageId=${name}`, `OutputDirectory=out/${name}`, 'Checksum=yes'],
  };
  return Object.entries(all).map(([section, lines]) => [`[${section}]`, ...lines!, ''].join('\n')).join('\n');
}

/** The project: three files in mkosi.files/ and what they share at the top. */
function writeProject(dir: string, fedora: RpmRepo, fedoraExtra: RpmRepo, debRepo: string): void {
  const debian: Sections = { Distribution: ['Distribution=debian', 'Release=bookworm'], Content: ['BasePackages=no', 'Packages=busybox,kiln-test-extra'] };
  const files: Record<string, string> = {
    'mkosi.files/mkosi.debian-disk': imageFile('debian-disk', { ...debian, Output: ['Format=gpt_ext4'], Partitions: ['RootSize=1G'] }),
    // Not compressed: xz is no part of --all, and it would be paid by every build of this image.
    'mkosi.files/mkosi.debian-tar': imageFile('debian-tar', { ...debian, Output: ['Format=tar', 'CompressOutput=no', 'ManifestFormat=json,changelog'] }),
    'mkosi.files/mkosi.fedora': imageFile('fedora', {
      Distribution: ['Distribution=fedora', 'Release=38', `LocalMirror=${fedora.url}`, 'RepositoryKeyCheck=no'],
      Content: ['Packages=kiln-test-hello,kiln-test-extra'],
      Output: ['Format=tar', 'ManifestFormat=json,changelog'],
    }),
    // Not an image: --all takes only mkosi.* files.
    'mkosi.files/README': 'one image per mkosi.NAME file\n',
    'mkosi.extra/etc/kiln-all-mark': 'shared by every image\n',
    'mkosi.reposdir/extra.list': `deb [trusted=yes] ${debRepo} ./\n`,
    'mkosi.reposdir/extra.repo': `[kiln-extra]\nname=kiln-extra\nbaseurl=${fedoraExtra.url}\ngpgcheck=0\n`,
  };
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  writeFileSync(path.join(dir, 'mkosi.postinst'), POSTINST, { mode: 0o755 });
}

/** The shared test cache's .debs without the libraries: the test is that both Debian builds download them once. */
function seedCache(cache: string): void {
  const from = path.join(TEST_CACHE, 'debian~bookworm/packages');
  const to = path.join(cache, 'debian~bookworm/packages');
  mkdirSync(to, { recursive: true });
  if (!existsSync(from)) return;
  for (const name of readdirSync(from).filter((n) => n.endsWith('.deb') && !n.startsWith('lib'))) linkSync(path.join(from, name), path.join(to, name));
}

/** Files below a directory (the outputs an image left), relative to it. */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

function copyDefinition(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of ['mkosi.files', 'mkosi.extra', 'mkosi.reposdir', 'mkosi.postinst']) execFileSync('cp', ['-a', path.join(from, name), to]);
}

describe.skipIf(skip)('kiln --all with mkosi.files/', () => {
  let work: string;
  let project: string;
  let cache: string;
  let server: RepoServer;
  let proxy: CountingProxy;
  let first: KilnResult;
  let stopUdev: () => void = () => undefined;
  const imported: string[] = [];
  const out = (image: string, dist = 'debian~bookworm') => path.join(project, 'out', image, dist);

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'kiln-all-'));
    const fedora = await buildRpmRepo(path.join(work, 'fedora'), fedoraPackages());
    const fedoraExtra = await buildRpmRepo(path.join(work, 'fedora-extra'), [
      { name: 'kiln-test-extra', depends: ['kiln-test-busybox'], files: [{ path: EXTRA_MARK.slice(1), content: 'extra from mkosi.reposdir\n' }] },
    ]);
    const debRepo = await buildDebRepo(path.join(work, 'deb'), [
      { name: 'kiln-test-extra', version: '1.0', files: [{ path: EXTRA_MARK.slice(1), content: 'extra from mkosi.reposdir\n' }], changelog: DEB_CHANGELOG },
    ]);
    server = await serveDirectory(debRepo);
    proxy = await startCountingProxy();
    cache = path.join(work, 'cache');
    seedCache(cache);
    project = path.join(work, 'project');
    writeProject(project, fedora, fedoraExtra, server.url);
    first = await kiln(['--cache', cache, '--all', '--incremental', 'build'], { cwd: project, env: { http_proxy: proxy.url, CI: 'true' } });
    stopUdev = ensureUdev();
  }, 15 * 60_000);

  afterAll(async () => {
    stopUdev();
    await proxy?.close();
    await server?.close();
    for (const dir of imported) rmSync(path.dirname(dir), { recursive: true, force: true });
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('builds the three images side by side, with a line per step and one table', () => {
    expect(first.stderr).not.toContain('kiln: error');
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/^‣ Building 3 images, 2 at a time: debian-disk, debian-tar, fedora$/m);
    // The two Debian images make the same root: one bootstraps it, the other waits and uses it.
    const installing = ['debian-disk', 'debian-tar'].filter((name) => new RegExp(`^\\[${name}\\] ‣ Installing packages \\(`, 'm').test(first.stderr));
    expect(installing).toHaveLength(1);
    const other = installing[0] === 'debian-disk' ? 'debian-tar' : 'debian-disk';
    expect(first.stderr).toMatch(new RegExp(`^\\[${other}\\] ‣ Using the cached root [0-9a-f]{16}(, made by another build)? \\(`, 'm'));
    expect(first.stderr).toMatch(/^\[fedora\] ‣ Running the post-installation script \(/m);
    expect(first.stderr).toMatch(/^IMAGE +FORMAT +RESULT +TIME +SIZE +OUTPUT$/m);
    expect(first.stderr).toMatch(/^debian-disk +gpt_ext4 +built +\S+ +\S+ \S+ +out\/debian-disk\/debian~bookworm\/debian-disk\.raw$/m);
    expect(first.stderr).toMatch(/^fedora +tar +built /m);
    expect(workspacesIn(out('debian-disk'))).toEqual([]);
    expect(mountsUnder(project)).toEqual([]);
  });

  it('downloads every .deb once, though both Debian images needed it', () => {
    expect(proxy.debs.size).toBeGreaterThan(0);
    expect([...proxy.debs].filter(([, count]) => count > 1)).toEqual([]);
    const libc = [...proxy.debs.keys()].find((name) => name.startsWith('libc6_'));
    // Seeded without the libraries, so both builds needed libc6 from the network.
    if (existsSync(path.join(TEST_CACHE, 'debian~bookworm/packages'))) expect(libc).toBeDefined();
    expect(readdirSync(path.join(cache, 'debian~bookworm/packages')).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('makes a disk systemd-dissect reads, with the shared trees, the postinst and the package from mkosi.reposdir/', () => {
    const image = path.join(out('debian-disk'), 'debian-disk.raw');
    sh(['sfdisk', '--verify', image]);
    expect(sh(['systemd-dissect', image])).toMatch(/^rw root .* ext4 +x86-64 /m);
    const copied = path.join(work, 'from-disk');
    mkdirSync(copied);
    for (const file of ['/etc/kiln-all-mark', '/etc/kiln-all-image', EXTRA_MARK]) sh(['systemd-dissect', '--copy-from', image, file, path.join(copied, path.basename(file))]);
    expect(readFileSync(path.join(copied, 'kiln-all-mark'), 'utf8')).toBe('shared by every image\n');
    expect(readFileSync(path.join(copied, 'kiln-all-image'), 'utf8')).toBe('debian-disk\n');
    expect(readFileSync(path.join(copied, 'mark'), 'utf8')).toBe('extra from mkosi.reposdir\n');
    expect(readFileSync(path.join(out('debian-disk'), 'SHA256SUMS'), 'utf8')).toMatch(/^[0-9a-f]{64} \*debian-disk\.raw$/m);
  });

  it('makes a Debian tar that systemd-import takes, without the build-time apt source', () => {
    const root = importTar(path.join(out('debian-tar'), 'debian-tar.tar'), 'kiln-all-debian');
    imported.push(root);
    expect(nspawn(root, ['cat', '/etc/kiln-all-image', EXTRA_MARK])).toBe('debian-tar\nextra from mkosi.reposdir\n');
    expect(nspawn(root, ['busybox', 'true'])).toBe('');
    expect(readdirSync(path.join(root, 'etc/apt/sources.list.d'))).toEqual([]);
  });

  it('writes the Debian changelogs from the packages in the cache (WithDocs=no)', () => {
    const report = readFileSync(path.join(out('debian-tar'), 'debian-tar.tar.changelog'), 'utf8');
    expect(report).toMatch(/^Packages: \d+\nSize: +\d+\n/);
    expect(report).toContain(`SourcePackage: kiln-test-extra\nPackages:      kiln-test-extra\nSize:          `);
    expect(report).toContain(`Changelog:\n${DEB_CHANGELOG.trim()}\n`);
    expect(report).toMatch(/SourcePackage: busybox\nPackages: +busybox\n[^]*?Changelog:\nbusybox \(1:1\.35/);
  });

  it('makes a Fedora tar from the local repository and the repository in mkosi.reposdir/, with rpm\'s changelog', () => {
    const root = importTar(path.join(out('fedora', 'fedora~38'), 'fedora.tar.xz'), 'kiln-all-fedora');
    imported.push(root);
    expect(nspawn(root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello\n');
    expect(nspawn(root, ['/usr/bin/busybox', 'cat', '/etc/kiln-all-image', EXTRA_MARK])).toBe('fedora\nextra from mkosi.reposdir\n');
    const report = readFileSync(path.join(out('fedora', 'fedora~38'), 'fedora.tar.xz.changelog'), 'utf8');
    expect(report).toMatch(/SourcePackage: kiln-fixtures-1\.0-1\.src\.rpm\nPackages: +[^\n]*kiln-test-hello/);
    expect(report).toContain(`- ${RPM_CHANGELOG_ENTRY}`);
  });

  it('builds the other two when one image\'s postinst fails, and the failing one leaves nothing', async () => {
    const again = path.join(work, 'failing');
    copyDefinition(project, again);
    const result = await kiln(['--cache', cache, '--all', '--incremental', '--environment=KILN_FAIL=debian-disk', 'build'], { cwd: again, env: { CI: 'true' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('[debian-disk] kiln: error: mkosi.postinst failed with exit code 3');
    expect(result.stderr).toMatch(/^debian-disk +gpt_ext4 +failed /m);
    expect(result.stderr).toMatch(/^debian-tar +tar +built /m);
    expect(result.stderr).toMatch(/^fedora +tar +built /m);
    expect(result.stderr).toMatch(/^debian-disk: mkosi\.postinst failed with exit code 3$/m);
    expect(filesBelow(path.join(again, 'out/debian-disk'))).toEqual([]);
    expect(filesBelow(path.join(again, 'out/debian-tar'))).toEqual([
      'debian~bookworm/SHA256SUMS',
      'debian~bookworm/debian-tar.tar',
      'debian~bookworm/debian-tar.tar.changelog',
      'debian~bookworm/debian-tar.tar.manifest',
    ]);
    expect(existsSync(path.join(again, 'out/fedora/fedora~38/fedora.tar.xz'))).toBe(true);
    expect(mountsUnder(again)).toEqual([]);
  });

  it('stops at the first failure with --fail-fast, as mkosi 14 does, starting no other image', async () => {
    const again = path.join(work, 'fail-fast');
    copyDefinition(project, again);
    const result = await kiln(['--cache', cache, '--all', '--incremental', '--jobs=1', '--fail-fast', '--environment=KILN_FAIL=debian-disk', 'build'], { cwd: again, env: { CI: 'true' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^debian-disk +gpt_ext4 +failed /m);
    expect(result.stderr).toMatch(/^debian-tar +tar +skipped +- +- +-$/m);
    expect(result.stderr).toMatch(/^fedora +tar +skipped /m);
    expect(result.stderr).not.toContain('[debian-tar]');
    expect(filesBelow(path.join(again, 'out'))).toEqual([]);
  });
});

describe.skipIf(skip)('kiln --all without --incremental', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'kiln-all-shared-'));
  });

  afterAll(async () => {
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  // The shared roots are the same for every distribution: Fedora from the local repository makes
  // its root in seconds, where a Debian one would take a minute (the Debian images of the run above
  // share theirs through the incremental cache).
  it('bootstraps a root once for the images that make the same one, and leaves no cached root behind', async () => {
    const fedora = await buildRpmRepo(path.join(work, 'fedora'), fedoraPackages());
    const cache = path.join(work, 'cache');
    const project = path.join(work, 'project');
    for (const format of ['directory', 'tar']) {
      mkdirSync(path.join(project, 'mkosi.files'), { recursive: true });
      writeFileSync(
        path.join(project, 'mkosi.files', `mkosi.${format}`),
        imageFile(format, {
          Distribution: ['Distribution=fedora', 'Release=38', `LocalMirror=${fedora.url}`, 'RepositoryKeyCheck=no'],
          Output: [`Format=${format}`, 'CompressOutput=no'],
          Content: ['Packages=kiln-test-hello'],
        }),
      );
    }
    writeFileSync(path.join(project, 'mkosi.postinst'), POSTINST, { mode: 0o755 });
    // What a killed run left (its owner, "pid start-time", is a pid above any pid_max), and what a
    // running one holds (this process, recorded as kiln records a run's owner).
    const stale = path.join(cache, 'fedora~38', '.all-run-killed');
    mkdirSync(path.join(stale, 'roots'), { recursive: true });
    writeFileSync(path.join(stale, 'owner'), '4194999 1\n');
    const live = await createScratchDirectory(path.join(cache, 'fedora~38'), '.all-run-');
    mkdirSync(path.join(live, 'roots'));
    const result = await kiln(['--cache', cache, '--all', 'build'], { cwd: project, env: { CI: 'true' } });
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    expect(result.stderr.match(/^\[\w+\] ‣ Installing packages \(/gm)).toHaveLength(1);
    expect(result.stderr).toContain(`kiln: warning: removing ${stale}, the shared roots of a kiln --all run that was killed\n`);
    expect(result.stderr).toMatch(/^\[\w+\] ‣ Using the cached root [0-9a-f]{16}(, made by another build)? \(/m);
    const directory = path.join(project, 'out/directory/fedora~38/directory');
    expect(nspawn(directory, ['/usr/bin/busybox', 'cat', '/etc/kiln-all-image'])).toBe('directory\n');
    const listing = execFileSync('tar', ['-tf', path.join(project, 'out/tar/fedora~38/tar.tar')], { encoding: 'utf8' });
    expect(listing).toMatch(/^\.\/usr\/bin\/hello$/m);
    // The run's own cached roots went with it; Cache= keeps only the downloads, as without --all.
    // The killed run's went too; the running one's stays.
    expect(readdirSync(path.join(cache, 'fedora~38')).sort()).toEqual([path.basename(live), 'packages', 'packages.lock']);
    expect(mountsUnder(project)).toEqual([]);
  });
});
