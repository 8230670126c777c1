/**
 * The pacman backend against a real pacman repository built at test time (bsdtar + repo-add):
 * pacman installs into a root that systemd-nspawn then starts.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arch } from '../../src/distributions/arch.js';
import { KilnError, ToolError, UserError } from '../../src/errors.js';
import { HOST_KEYRING, pacman } from '../../src/package-managers/pacman.js';
import { contextPool, listFiles, runInImage, type TestContext } from '../fixtures/repos/harness.js';
import { unavailable } from '../skip.js';
import { mountsUnder, whyNotRoot } from './helpers/kiln.js';
import { serveDirectory, type RepoServer } from '../fixtures/repos/http-server.js';
import { archPackages, busyboxPackage, helloPackage, missingFixtureInput, PRIVATE_DEV, stubPackage, type FixturePackage } from '../fixtures/repos/packages.js';
import { buildPacmanRepo, missingPacmanRepoTools, type PacmanRepo } from '../fixtures/repos/pacman-repo.js';

const reason = whyNotRoot(['pacman', 'repo-add', 'bsdtar', 'unshare', 'systemd-nspawn'], missingPacmanRepoTools() ?? missingFixtureInput());

function archConfig(mirror: string, extra: { distribution?: string; content?: string } = {}): string {
  return [
    '[Distribution]', 'Distribution=arch', `LocalMirror=${mirror}`, 'RepositoryKeyCheck=no', extra.distribution ?? '',
    '[Content]', 'Packages=kiln-test-hello', extra.content ?? '',
  ].join('\n');
}

/** What the pipeline asks for: the distribution's base packages, then Packages=. */
function wanted(context: TestContext): string[] {
  return [...new Set([...arch.basePackages(context.config), ...context.config.Packages])];
}

describe.skipIf(reason)('pacman backend (Arch Linux)', () => {
  let workDir: string;
  let repo: PacmanRepo;
  const pool = contextPool();
  const context = pool.make;

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-arch-repo-'));
    const started = performance.now();
    repo = await buildPacmanRepo(path.join(workDir, 'repo'), archPackages());
    console.log(`pacman fixture repository built in ${Math.round(performance.now() - started)} ms`);
  });

  afterAll(async () => {
    await pool.disposeAll();
    await fs.rm(workDir, { recursive: true, force: true });
  });

  it('installs base and Packages= from LocalMirror=, and the image runs them', async () => {
    const ctx = await context(archConfig(repo.url));
    const started = performance.now();
    await pacman.install(ctx, wanted(ctx));
    console.log(`pacman install took ${Math.round(performance.now() - started)} ms`);

    expect(await runInImage(ctx.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
    // The post_install scriptlet ran inside the image with /dev mounted.
    expect(await runInImage(ctx.root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-installed'])).toBe('installed');
    // …with a private /dev, never the host's device nodes.
    expect((await fs.readFile(path.join(ctx.root, 'var/lib/kiln-test/dev'), 'utf8')).split('\n').filter(Boolean)).toEqual(PRIVATE_DEV);
    expect(await listFiles(ctx.packageCache)).toEqual(Object.values(repo.files).map((file) => path.basename(file)).sort());
    expect(await pacman.listInstalled(ctx)).toMatchObject([
      { type: 'pkg', name: 'base', version: '1.0-1', architecture: 'any' },
      { type: 'pkg', name: 'kiln-test-busybox', version: '1.0-1', architecture: os.machine() },
      { type: 'pkg', name: 'kiln-test-hello', version: '1.0-1', architecture: 'any' },
    ]);
    // WithDocs=no (the default) keeps documentation out; the rest of the package is there.
    expect(existsSync(path.join(ctx.root, 'usr/share/doc/kiln-test-hello/README'))).toBe(false);
    expect(existsSync(path.join(ctx.root, 'usr/share/kiln-test-hello/mark'))).toBe(true);
    // The image's mirrorlist names Mirror= (here mkosi 14's default), never the LocalMirror= of the build.
    expect(await fs.readFile(path.join(ctx.root, 'etc/pacman.d/mirrorlist'), 'utf8')).toBe('Server = https://geo.mirror.pkgbuild.com/$repo/os/$arch\n');
    // Nothing of the build leaks into the image or stays mounted; no host keyring was copied in.
    expect(existsSync(path.join(ctx.root, 'etc/pacman.d/gnupg'))).toBe(false);
    expect(await listFiles(path.join(ctx.root, 'var/cache/pacman/pkg'))).toEqual([]);
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it('writes Mirror= into the mirrorlist and keeps documentation with WithDocs=yes', async () => {
    const ctx = await context(archConfig(repo.url, { distribution: 'Mirror=http://127.0.0.1:9/archlinux/', content: 'WithDocs=yes' }));
    await pacman.install(ctx, wanted(ctx));
    expect(await fs.readFile(path.join(ctx.root, 'etc/pacman.d/mirrorlist'), 'utf8')).toBe('Server = http://127.0.0.1:9/archlinux/$repo/os/$arch\n');
    expect(await fs.readFile(path.join(ctx.root, 'usr/share/doc/kiln-test-hello/README'), 'utf8')).toBe('documentation\n');
  });

  it('downloads each package once: a second build takes them from the package cache', async () => {
    let server: RepoServer | undefined;
    try {
      server = await serveDirectory(repo.directory);
      const first = await context(archConfig(server.url));
      await pacman.install(first, wanted(first));
      const downloaded = server.requests.filter((name) => name.endsWith('.pkg.tar.zst'));
      expect(downloaded.sort()).toEqual(Object.values(repo.files).map((file) => `/${path.basename(file)}`).sort());

      server.requests.length = 0;
      const second = await context(archConfig(server.url), { packageCache: first.packageCache });
      await pacman.install(second, wanted(second));
      expect(server.requests.filter((name) => name.endsWith('.pkg.tar.zst'))).toEqual([]);
      expect(server.requests).toContain('/core.db');
      expect(await runInImage(second.root, ['/usr/bin/hello'])).toBe('hello from kiln-test-hello');
    } finally {
      await server?.close();
    }
  });

  it('installs from a local repository rebuilt in place (same file names, new content) with the old cache', async () => {
    const rebuilt = path.join(workDir, 'rebuilt');
    const before = await buildPacmanRepo(rebuilt, archPackages());
    const first = await context(archConfig(before.url));
    await pacman.install(first, wanted(first));
    // Same names and versions, other bytes: pacman calls the cached files corrupted.
    await fs.rm(rebuilt, { recursive: true });
    const hello = { ...helloPackage(), files: helloPackage().files.map((f) => (f.path === 'usr/bin/hello' ? { ...f, content: '#!/bin/sh\necho rebuilt\n' } : f)) };
    const after = await buildPacmanRepo(rebuilt, [busyboxPackage(), hello, stubPackage('base')]);
    const second = await context(archConfig(after.url), { packageCache: first.packageCache });
    await pacman.install(second, wanted(second));
    expect(await runInImage(second.root, ['/usr/bin/hello'])).toBe('rebuilt');
  });

  it('BasePackages=no installs Packages= and their dependencies only', async () => {
    const ctx = await context(archConfig(repo.url, { content: 'BasePackages=no' }));
    await pacman.install(ctx, wanted(ctx));
    expect((await pacman.listInstalled(ctx)).map((p) => p.name)).toEqual(['kiln-test-busybox', 'kiln-test-hello']);
  });

  it('removes packages with pacman -Rns, running their scriptlets in the image', async () => {
    const ctx = await context(archConfig(repo.url));
    await pacman.install(ctx, wanted(ctx));
    await pacman.remove(ctx, ['kiln-test-hello']);
    expect(existsSync(path.join(ctx.root, 'usr/bin/hello'))).toBe(false);
    expect(await runInImage(ctx.root, ['/usr/bin/busybox', 'cat', '/var/lib/kiln-test/hello-removed'])).toBe('removed');
    // busybox stays: base still needs it.
    expect((await pacman.listInstalled(ctx)).map((p) => p.name)).toEqual(['base', 'kiln-test-busybox']);
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it('adds Repositories=name::url and installs more packages later', async () => {
    const extraPackage: FixturePackage = { ...stubPackage('kiln-test-extra'), files: [{ path: 'usr/share/kiln-test-extra', content: 'extra\n' }] };
    const extraRepo = await buildPacmanRepo(path.join(workDir, 'extra'), [extraPackage], { name: 'kiln-extra' });
    const ctx = await context(archConfig(repo.url, { distribution: `Repositories=kiln-extra::${extraRepo.url}` }));
    await pacman.install(ctx, wanted(ctx));
    await pacman.installMore(ctx, ['kiln-test-extra']);
    expect(await runInImage(ctx.root, ['/usr/bin/busybox', 'cat', '/usr/share/kiln-test-extra'])).toBe('extra');
  });

  it('names the missing package when pacman cannot find it', async () => {
    const ctx = await context(archConfig(repo.url));
    const failure = pacman.install(ctx, ['kiln-test-nope']);
    await expect(failure).rejects.toBeInstanceOf(ToolError);
    await expect(failure).rejects.toThrow('Installing packages with pacman: target not found: kiln-test-nope');
    expect(mountsUnder(ctx.root)).toEqual([]);
  });

  it.skipIf(unavailable(existsSync(HOST_KEYRING) ? `needs a host without the Arch keyring ${HOST_KEYRING}` : undefined))('refuses RepositoryKeyCheck=yes without the host keyring, before touching the root', async () => {
    const ctx = await context(archConfig(repo.url).replace('RepositoryKeyCheck=no', 'RepositoryKeyCheck=yes'));
    const failure = pacman.install(ctx, wanted(ctx));
    await expect(failure).rejects.toBeInstanceOf(UserError);
    await expect(failure).rejects.toThrow(/keyring/);
    expect(await fs.readdir(ctx.root)).toEqual([]);
    expect((await failure.then(() => undefined, (e: KilnError) => e))?.hint).toMatch(/RepositoryKeyCheck=no/);
  });
});
