/**
 * Issue 17's proof for the RPM distributions beyond Fedora: openSUSE (zypper) and CentOS, Rocky,
 * Alma (each with and without EPEL), Mageia and OpenMandriva (dnf), each built by `kiln build` from
 * one shared local repository (rpmbuild + createrepo_c; LocalMirror=, unsigned) holding the base
 * packages mkosi 14 installs for each as stubs over a static busybox. For each image: the RPM
 * database (read by the host's rpm) and the manifest list exactly the base packages and Packages=,
 * mkosi.extra and mkosi.postinst were applied, and systemd-nspawn starts it. What is proven is
 * kiln's side (repositories, package sets, package manager runs), not the distributions' packages.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rocky } from '../../src/distributions/rocky.js';
import { opensuse } from '../../src/distributions/opensuse.js';
import { ToolError } from '../../src/errors.js';
import { dnf } from '../../src/package-managers/dnf.js';
import { zypper } from '../../src/package-managers/zypper.js';
import { convertToBerkeleyDb, DB_LOAD } from '../fixtures/repos/berkeley-db.js';
import { makeTestContext, runInImage, type TestContext } from '../fixtures/repos/harness.js';
import { serveDirectory } from '../fixtures/repos/http-server.js';
import { missingFixtureInput, RPM_CALLS, rpmDistributionPackages, VENDOR_PAM } from '../fixtures/repos/packages.js';
import { EXTRA_CONTENT, EXTRA_FILE, makeLocalMirrorProject, POSTINST_MARK } from '../fixtures/repos/project.js';
import { buildRpmRepo, type RpmRepo } from '../fixtures/repos/rpm-repo.js';
import { needs, unavailable } from '../skip.js';
import { kiln, kilnOk, mountsUnder, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const fixtureProblem = missingFixtureInput();
const reason = whyNotRoot(['dnf', 'zypper', 'rpm', 'unshare', 'rpmbuild', 'createrepo_c', 'systemd-nspawn'], fixtureProblem);

/** What the image's rpm records for mkosi 14's `rpm --rebuilddb --define "_db_backend bdb"` in systemd-nspawn. */
const REBUILD_BDB = 'container=systemd-nspawn\n--rebuilddb\n--define\n_db_backend bdb\n--\n';

/** Packages= of every build (rpm: so that the image keeps its database), and what they pull in. */
const PACKAGES = ['kiln-test-hello', 'rpm'];
const COMMON = [...PACKAGES, 'kiln-test-busybox'];

/**
 * Each distribution, its release, and the base packages mkosi 14 installs for it; `bdb`: the image's
 * own rpm must rebuild the database as Berkeley DB (CentOS, Rocky, Alma up to 8).
 */
const CASES: readonly { distribution: string; release: string; database: string; base: readonly string[]; bdb?: boolean }[] = [
  { distribution: 'opensuse', release: 'tumbleweed', database: 'usr/lib/sysimage/rpm', base: ['glibc-locale-base', 'patterns-base-minimal_base', 'systemd', 'zypper'] },
  { distribution: 'centos', release: '9-stream', database: 'var/lib/rpm', base: ['dnf', 'systemd'] },
  { distribution: 'centos_epel', release: '9-stream', database: 'var/lib/rpm', base: ['dnf', 'systemd', 'systemd-boot'] },
  { distribution: 'rocky', release: '8', database: 'var/lib/rpm', base: ['dnf', 'systemd'], bdb: true },
  { distribution: 'rocky_epel', release: '9', database: 'var/lib/rpm', base: ['dnf', 'systemd', 'systemd-boot'] },
  { distribution: 'alma', release: '9', database: 'var/lib/rpm', base: ['dnf', 'systemd'] },
  { distribution: 'alma_epel', release: '8', database: 'var/lib/rpm', base: ['dnf', 'systemd'], bdb: true },
  { distribution: 'mageia', release: '8', database: 'var/lib/rpm', base: ['basesystem-minimal', 'dnf'] },
  { distribution: 'openmandriva', release: 'cooker', database: 'var/lib/rpm', base: ['basesystem-minimal', 'dnf', 'systemd'] },
];

describe.skipIf(reason)('kiln build of the RPM distributions from one local repository', () => {
  let workDir: string;
  let repo: RpmRepo;

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-rpm-distributions-'));
    repo = await buildRpmRepo(path.join(workDir, 'repo'), rpmDistributionPackages());
  });

  afterAll(async () => {
    await fs.rm(workDir, { recursive: true, force: true });
  });

  for (const { distribution, release, database, base, bdb } of CASES) {
    it(`${distribution} ${release}: packages in its RPM database and manifest, extra and postinst applied, started by systemd-nspawn`, async () => {
      const project = await makeLocalMirrorProject({ distribution, mirror: repo.url, format: 'directory', distributionLines: [`Release=${release}`], packages: PACKAGES });
      try {
        const started = performance.now();
        await kilnOk(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
        console.log(`kiln build (${distribution} ${release}, directory) took ${Math.round(performance.now() - started)} ms`);
        expect(workspacesIn(project)).toEqual([]);
        expect(mountsUnder(project)).toEqual([]);
        const root = path.join(project, 'image');
        const expected = [...base, ...COMMON].sort();

        // The database where the distribution's own rpm looks, read by the host's rpm.
        const query = spawnSync('rpm', [`--root=${root}`, `--dbpath=/${database}`, '-qa', '--qf', '%{NAME}\\n'], { encoding: 'utf8' });
        expect(query.status, query.stderr).toBe(0);
        expect(query.stdout.split('\n').filter(Boolean).sort()).toEqual(expected);
        const manifest = JSON.parse(readFileSync(path.join(project, 'image.manifest'), 'utf8')) as { packages: { type: string; name: string }[] };
        expect(manifest.packages.map((p) => `${p.type}:${p.name}`)).toEqual(expected.map((name) => `rpm:${name}`));

        expect(nspawn(root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello\n');
        expect(nspawn(root, ['/usr/bin/busybox', 'cat', EXTRA_FILE])).toBe(EXTRA_CONTENT);
        expect(nspawn(root, ['/usr/bin/busybox', 'cat', POSTINST_MARK])).toBe('final in systemd-nspawn: kiln-test-hello 1.0\n');
        // WithDocs=no (the default) keeps documentation out.
        expect(existsSync(path.join(root, 'usr/share/doc/kiln-test-hello/README'))).toBe(false);
        // Up to 8, the image's own rpm (a stand-in that records its calls: see fakeRpmPackage) rebuilt
        // the database as Berkeley DB, inside the image, after dnf (mkosi 14); elsewhere nothing runs it.
        const calls = await fs.readFile(path.join(root, RPM_CALLS), 'utf8').catch(() => undefined);
        expect(calls).toBe(bdb ? REBUILD_BDB : undefined);
        if (distribution === 'opensuse') {
          // The image keeps mkosi 14's default Mirror= repositories, never the build's LocalMirror=.
          const repos = readFileSync(path.join(root, 'etc/zypp/repos.d/kiln.repo'), 'utf8');
          expect(repos).toContain('[repo-oss]\nname=repo-oss\nbaseurl=http://download.opensuse.org/tumbleweed/repo/oss/\n');
          expect(repos).not.toContain(repo.url);
          expect(readFileSync(path.join(root, 'etc/zypp/zypp.conf'), 'utf8')).toContain('rpm.install.excludedocs = yes');
          // zypper kept its downloads in kiln's package cache (bound into the image while it ran), not in the image.
          const cached = await fs.readdir(path.join(workDir, 'cache'), { recursive: true });
          expect(cached.filter((file) => file.endsWith('kiln-test-hello-1.0-1.noarch.rpm'))).toHaveLength(1);
          expect(await fs.readdir(path.join(root, 'var/cache/zypp/packages')).catch(() => [])).toEqual([]);
          // So did its repository metadata (for the next build, and WithNetwork=never).
          expect(cached.some((file) => file.endsWith('repomd.xml'))).toBe(true);
          expect(await fs.readdir(path.join(root, 'var/cache/zypp/raw')).catch(() => [])).toEqual([]);
        }
      } finally {
        await fs.rm(project, { recursive: true, force: true });
      }
    });
  }

  it.skipIf(unavailable(needs([DB_LOAD], { root: false })))('CentOS 8: the host\'s dnf works on a Berkeley DB database again (RemovePackages=), and the image\'s rpm rebuilds it after', async () => {
    const context = await makeTestContext(
      ['[Distribution]', 'Distribution=rocky', 'Release=8', `LocalMirror=${repo.url}`, 'RepositoryKeyCheck=no', '[Content]', `Packages=${PACKAGES.join(',')}`].join('\n'),
      { packageCache: path.join(workDir, 'cache') },
    );
    try {
      const calls = (): Promise<string> => fs.readFile(path.join(context.root, RPM_CALLS), 'utf8');
      await dnf.install(context, [...rocky.basePackages(context.config), ...PACKAGES]);
      expect(await calls()).toBe(REBUILD_BDB);
      // What CentOS 8's rpm 4.14 leaves (the stand-in cannot write Berkeley DB; see berkeley-db.ts).
      await convertToBerkeleyDb(context.root, 'var/lib/rpm');
      const everything = [...rocky.basePackages(context.config), ...COMMON].sort();
      // The manifest reads it as it is (Debian's rpm reads Berkeley DB)…
      expect((await dnf.listInstalled(context)).map((p) => p.name)).toEqual(everything);

      await dnf.remove(context, ['kiln-test-hello']);
      // …and dnf, which cannot write it, finds it turned back into sqlite by the host's rpm.
      expect(existsSync(path.join(context.root, 'var/lib/rpm/rpmdb.sqlite'))).toBe(true);
      expect(existsSync(path.join(context.root, 'var/lib/rpm/Packages'))).toBe(false);
      expect((await dnf.listInstalled(context)).map((p) => p.name)).toEqual(everything.filter((name) => name !== 'kiln-test-hello'));
      expect(await runInImage(context.root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-removed'])).toBe('removed');
      // The image's rpm rebuilt it again after the removal.
      expect(await calls()).toBe(REBUILD_BDB.repeat(2));
    } finally {
      await context.dispose();
    }
  });

  it('openSUSE, WithNetwork=never: zypper installs from what an earlier build cached, without a network; with an empty cache it says why it cannot', async () => {
    const server = await serveDirectory(repo.directory);
    const contexts: TestContext[] = [];
    const context = async (lines: string, packageCache: string): Promise<TestContext> => {
      const made = await makeTestContext(['[Distribution]', 'Distribution=opensuse', `LocalMirror=${server.url}`, 'RepositoryKeyCheck=no', '[Content]', 'Packages=kiln-test-hello', lines].join('\n'), { packageCache });
      contexts.push(made);
      return made;
    };
    const packages = (ctx: TestContext): string[] => [...opensuse.basePackages(ctx.config), ...ctx.config.Packages];
    try {
      const cache = path.join(workDir, 'offline-cache');
      const first = await context('', cache);
      await zypper.install(first, packages(first));
      expect(server.requests.some((name) => name.endsWith('kiln-test-hello-1.0-1.noarch.rpm'))).toBe(true);
      const asked = server.requests.length;

      // The server is still there: the offline build does not ask it for anything.
      const offline = await context('WithNetwork=never', cache);
      await zypper.install(offline, packages(offline));
      expect(await runInImage(offline.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
      expect(server.requests.length).toBe(asked);

      const empty = await context('WithNetwork=never', path.join(workDir, 'empty-cache'));
      const failure = await zypper.install(empty, packages(empty)).then(() => undefined, (error: unknown) => error);
      expect(failure).toBeInstanceOf(ToolError);
      expect((failure as ToolError).message).toContain(`Installing packages with zypper: Download (curl) error for '${server.url}/repodata/repomd.xml'`);
      expect((failure as ToolError).hint).toContain('WithNetwork=never: zypper may use only what earlier builds left in the package cache');
      expect(server.requests.length).toBe(asked);
    } finally {
      await server.close();
      for (const made of contexts) await made.dispose();
    }
  });

  it('openSUSE: removes RemovePackages= with zypper, running their scriptlets in the image; PAM from /usr/lib/pam.d for Password= and Autologin=', async () => {
    const project = await makeLocalMirrorProject({ distribution: 'opensuse', mirror: repo.url, format: 'directory', packages: [...PACKAGES, 'pam'] });
    try {
      await fs.appendFile(path.join(project, 'mkosi.default'), 'RemovePackages=kiln-test-hello\nPassword=\nAutologin=yes\n');
      await kilnOk(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
      const root = path.join(project, 'image');
      expect(existsSync(path.join(root, 'usr/bin/hello'))).toBe(false);
      expect(nspawn(root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-removed'])).toBe('removed\n');
      const manifest = JSON.parse(readFileSync(path.join(project, 'image.manifest'), 'utf8')) as { packages: { name: string }[] };
      expect(manifest.packages.map((p) => p.name)).not.toContain('kiln-test-hello');
      // An empty Password=: root logs in without one, so common-auth's pam_unix.so takes nullok, in a
      // copy in /etc/pam.d (mkosi 14); login is copied there for Autologin= to change.
      expect(readFileSync(path.join(root, 'etc/pam.d/common-auth'), 'utf8')).toBe(VENDOR_PAM['common-auth'].replace('try_first_pass\n', 'try_first_pass nullok\n'));
      expect(readFileSync(path.join(root, 'etc/pam.d/login'), 'utf8')).toContain(VENDOR_PAM.login);
      expect(readFileSync(path.join(root, 'usr/lib/pam.d/common-auth'), 'utf8')).toBe(VENDOR_PAM['common-auth']);
    } finally {
      await fs.rm(project, { recursive: true, force: true });
    }
  });

  it('fails with one clear line when zypper cannot find a package, leaving nothing behind', async () => {
    const project = await makeLocalMirrorProject({ distribution: 'opensuse', mirror: repo.url, format: 'directory', packages: ['kiln-test-nope'] });
    try {
      const result = await kiln(['--cache', path.join(workDir, 'cache'), 'build'], { cwd: project });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain("kiln: error: Installing packages with zypper: No provider of 'kiln-test-nope' found.");
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(path.join(project, 'image'))).toBe(false);
      expect(workspacesIn(project)).toEqual([]);
      expect(mountsUnder(project)).toEqual([]);
    } finally {
      await fs.rm(project, { recursive: true, force: true });
    }
  });
});
