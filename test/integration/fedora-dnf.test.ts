/**
 * The dnf backend against a real RPM repository built at test time (rpmbuild + createrepo_c):
 * dnf --installroot installs into a root that systemd-nspawn then starts.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fedora } from '../../src/distributions/fedora.js';
import { ToolError, UserError } from '../../src/errors.js';
import { dnf } from '../../src/package-managers/dnf.js';
import { run } from '../../src/run.js';
import { contextPool, listFiles, runInImage, type TestContext } from '../fixtures/repos/harness.js';
import { mountsUnder, whyNotRoot } from './helpers/kiln.js';
import { serveDirectory, type RepoServer } from '../fixtures/repos/http-server.js';
import { fedoraPackages, missingFixtureInput, PRIVATE_DEV } from '../fixtures/repos/packages.js';
import { buildRpmRepo, type RpmRepo } from '../fixtures/repos/rpm-repo.js';

const reason = whyNotRoot(['dnf', 'rpm', 'rpmbuild', 'createrepo_c', 'unshare', 'systemd-nspawn'], missingFixtureInput());

function fedoraConfig(mirror: string, extra: { distribution?: string; content?: string } = {}): string {
  return [
    '[Distribution]', 'Distribution=fedora', 'Release=38', `LocalMirror=${mirror}`, 'RepositoryKeyCheck=no', extra.distribution ?? '',
    '[Content]', 'Packages=kiln-test-hello', extra.content ?? '',
  ].join('\n');
}

/** What the pipeline asks for: the distribution's base packages, then Packages=. */
function wanted(context: TestContext): string[] {
  return [...new Set([...fedora.basePackages(context.config), ...context.config.Packages])];
}

describe.skipIf(reason)('dnf backend (Fedora)', () => {
  let workDir: string;
  let repo: RpmRepo;
  const pool = contextPool();
  const context = pool.make;

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-fedora-repo-'));
    const started = performance.now();
    repo = await buildRpmRepo(path.join(workDir, 'repo'), fedoraPackages());
    console.log(`RPM fixture repository built in ${Math.round(performance.now() - started)} ms`);
  });

  afterAll(async () => {
    await pool.disposeAll();
    await fs.rm(workDir, { recursive: true, force: true });
  });

  it('installs the base packages and Packages= from LocalMirror=, and the image runs them', async () => {
    const ctx = await context(fedoraConfig(repo.url));
    const started = performance.now();
    await dnf.install(ctx, wanted(ctx));
    console.log(`dnf install took ${Math.round(performance.now() - started)} ms`);

    expect(await runInImage(ctx.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
    // The %post scriptlet ran inside the image with /dev and /proc mounted.
    expect(await runInImage(ctx.root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-installed'])).toBe('installed');
    // …with a private /dev, never the host's device nodes.
    expect((await fs.readFile(path.join(ctx.root, 'var/lib/kiln-test/dev'), 'utf8')).split('\n').filter(Boolean)).toEqual(PRIVATE_DEV);
    expect(await dnf.listInstalled(ctx)).toMatchObject([
      { type: 'rpm', name: 'dnf', version: '1.0-1', architecture: 'noarch' },
      { type: 'rpm', name: 'kiln-test-busybox', version: '1.0-1', architecture: os.machine() },
      { type: 'rpm', name: 'kiln-test-hello', version: '1.0-1', architecture: 'noarch' },
      { type: 'rpm', name: 'systemd', version: '1.0-1', architecture: 'noarch' },
      { type: 'rpm', name: 'util-linux', version: '1.0-1', architecture: 'noarch' },
    ]);
    // The database is where Fedora's own rpm looks, with Fedora's compat link; nothing in /root.
    expect(existsSync(path.join(ctx.root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'))).toBe(true);
    expect(await fs.readlink(path.join(ctx.root, 'var/lib/rpm'))).toBe('../../usr/lib/sysimage/rpm');
    expect(existsSync(path.join(ctx.root, 'root/.rpmdb'))).toBe(false);
    // --nodocs (WithDocs=no) keeps documentation out.
    expect(existsSync(path.join(ctx.root, 'usr/share/doc/kiln-test-hello/README'))).toBe(false);
    expect(existsSync(path.join(ctx.root, 'usr/share/kiln-test-hello/mark'))).toBe(true);
    // The repository metadata went to the package cache, not the image; nothing stays mounted.
    expect((await listFiles(ctx.packageCache)).some((file) => file.endsWith('repomd.xml'))).toBe(true);
    expect(await listFiles(path.join(ctx.root, 'var/cache/dnf'))).toEqual([]);
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it('downloads each package once: a second build, offline with WithNetwork=never, uses the cache', async () => {
    let server: RepoServer | undefined;
    try {
      server = await serveDirectory(repo.directory);
      const first = await context(fedoraConfig(server.url));
      await dnf.install(first, wanted(first));
      const downloaded = server.requests.filter((name) => name.endsWith('.rpm')).map((name) => path.basename(name));
      expect(downloaded.sort()).toEqual(Object.values(repo.files).map((file) => path.basename(file)).sort());
      expect((await listFiles(first.packageCache)).filter((file) => file.endsWith('.rpm')).length).toBe(downloaded.length);

      const url = first.config.LocalMirror!;
      await server.close();
      server = undefined;
      // WithNetwork=never is dnf's cache-only mode: with the cache of the first build it works
      // with the server gone; with an empty cache it cannot.
      const offline = await context(fedoraConfig(url, { content: 'WithNetwork=never' }), { packageCache: first.packageCache });
      await dnf.install(offline, wanted(offline));
      const empty = await context(fedoraConfig(url, { content: 'WithNetwork=never' }));
      await expect(dnf.install(empty, wanted(empty))).rejects.toBeInstanceOf(ToolError);
      expect(await runInImage(offline.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
    } finally {
      await server?.close();
    }
  });

  it('BasePackages=no installs Packages= and their dependencies only; WithDocs=yes keeps documentation', async () => {
    const ctx = await context(fedoraConfig(repo.url, { content: 'BasePackages=no\nWithDocs=yes' }));
    await dnf.install(ctx, wanted(ctx));
    expect((await dnf.listInstalled(ctx)).map((p) => p.name)).toEqual(['kiln-test-busybox', 'kiln-test-hello']);
    expect(await fs.readFile(path.join(ctx.root, 'usr/share/doc/kiln-test-hello/README'), 'utf8')).toBe('documentation\n');
  });

  it('hands rich dependencies (what BasePackages=conditional adds) to dnf, after the plain names', async () => {
    const ctx = await context(fedoraConfig(repo.url, { content: 'BasePackages=no' }));
    await dnf.install(ctx, ['(util-linux if kiln-test-busybox)', 'kiln-test-hello']);
    expect((await dnf.listInstalled(ctx)).map((p) => p.name)).toEqual(['kiln-test-busybox', 'kiln-test-hello', 'util-linux']);
  });

  it('removes packages with dnf remove, running their scriptlets in the image', async () => {
    const ctx = await context(fedoraConfig(repo.url));
    await dnf.install(ctx, wanted(ctx));
    await dnf.remove(ctx, ['kiln-test-hello']);
    expect(existsSync(path.join(ctx.root, 'usr/bin/hello'))).toBe(false);
    expect(await runInImage(ctx.root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-removed'])).toBe('removed');
    expect((await dnf.listInstalled(ctx)).map((p) => p.name)).toEqual(['dnf', 'kiln-test-busybox', 'systemd', 'util-linux']);
    // rpm itself agrees (the database is readable where kiln says it is).
    const { stdout } = await run(['rpm', `--root=${ctx.root}`, '--dbpath=/usr/lib/sysimage/rpm', '-q', 'kiln-test-hello'], { okCodes: [1], read: true });
    expect(stdout).toMatch(/not installed/);
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it('installs more packages into an existing root', async () => {
    const ctx = await context(fedoraConfig(repo.url, { content: 'BasePackages=no' }));
    await dnf.install(ctx, ['kiln-test-busybox']);
    await dnf.installMore(ctx, ['kiln-test-hello']);
    expect((await dnf.listInstalled(ctx)).map((p) => p.name)).toEqual(['kiln-test-busybox', 'kiln-test-hello']);
  });

  it('names the missing package when dnf cannot find it', async () => {
    const ctx = await context(fedoraConfig(repo.url));
    const failure = dnf.install(ctx, ['kiln-test-nope']);
    await expect(failure).rejects.toBeInstanceOf(ToolError);
    await expect(failure).rejects.toThrow('Installing packages with dnf: Unable to find a match: kiln-test-nope');
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it('refuses Repositories= naming a repository the build does not have', async () => {
    const ctx = await context(fedoraConfig(repo.url, { distribution: 'Repositories=updates' }));
    await expect(dnf.install(ctx, wanted(ctx))).rejects.toThrow(UserError);
    const ok = await context(fedoraConfig(repo.url, { distribution: 'Repositories=fedora' }));
    await dnf.install(ok, wanted(ok));
    expect(await runInImage(ok.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
  });
});
