/**
 * RepositoryKeyCheck=yes for Fedora: kiln's .repo file (gpgcheck=1, gpgkey= the host's
 * /etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-RELEASE-ARCH) makes the real dnf accept RPMs signed by that
 * key and refuse unsigned ones or ones signed by another key. The host's /etc
 * is never changed: kiln runs with an overlay on /etc in a mount namespace of its own.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fedoraPackages, HOST_ARCHITECTURE, missingFixtureInput } from '../fixtures/repos/packages.js';
import { makeLocalMirrorProject } from '../fixtures/repos/project.js';
import { buildRpmRepo, type RpmRepo } from '../fixtures/repos/rpm-repo.js';
import { makeTestKey, runWithEtc, signRpm } from '../fixtures/repos/signing.js';
import { KILN, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const fixtureProblem = missingFixtureInput();
const reason = whyNotRoot(['dnf', 'rpm', 'unshare', 'rpmbuild', 'rpmsign', 'createrepo_c', 'gpg', 'systemd-nspawn'], fixtureProblem);

describe.skipIf(reason)('RepositoryKeyCheck=yes with dnf', () => {
  let workDir: string;
  let etc: string;
  let signed: RpmRepo;
  let unsigned: RpmRepo;
  let foreign: RpmRepo;
  const projects: string[] = [];

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-fedora-signed-'));
    const key = await makeTestKey(path.join(workDir, 'key'));
    const stranger = await makeTestKey(path.join(workDir, 'stranger'), 'untrusted key');
    etc = path.join(workDir, 'etc');
    await fs.mkdir(path.join(etc, 'pki/rpm-gpg'), { recursive: true });
    await fs.copyFile(key.publicKey, path.join(etc, `pki/rpm-gpg/RPM-GPG-KEY-fedora-38-${HOST_ARCHITECTURE}`));
    [signed, unsigned, foreign] = await Promise.all([
      buildRpmRepo(path.join(workDir, 'signed'), fedoraPackages(), { sign: (file) => signRpm(key, file) }),
      buildRpmRepo(path.join(workDir, 'unsigned'), fedoraPackages()),
      buildRpmRepo(path.join(workDir, 'foreign'), fedoraPackages(), { sign: (file) => signRpm(stranger, file) }),
    ]);
  });

  afterAll(async () => {
    for (const project of projects) await fs.rm(project, { recursive: true, force: true });
    await fs.rm(workDir, { recursive: true, force: true });
  });

  async function buildFrom(repo: RpmRepo, name: string) {
    const project = await makeLocalMirrorProject({ distribution: 'fedora', mirror: repo.url, format: 'directory', distributionLines: ['Release=38'] });
    projects.push(project);
    // The default, stated: signatures are checked.
    await fs.writeFile(
      path.join(project, 'mkosi.default'),
      (await fs.readFile(path.join(project, 'mkosi.default'), 'utf8')).replace('RepositoryKeyCheck=no', 'RepositoryKeyCheck=yes'),
    );
    const result = runWithEtc(etc, path.join(workDir, `overlay-${name}`), [KILN, '--cache', path.join(workDir, `cache-${name}`), 'build'], project);
    return { project, result };
  }

  it('installs packages signed with the Fedora key found on the host', async () => {
    const { project, result } = await buildFrom(signed, 'signed');
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    expect(nspawn(path.join(project, 'image'), ['/usr/bin/hello'])).toBe('hello from kiln-test-hello\n');
    // dnf imported the key into the image's RPM database, as on Fedora: the manifest shows it.
    const manifest = JSON.parse(await fs.readFile(path.join(project, 'image.manifest'), 'utf8')) as { packages: { name: string; architecture: string }[] };
    expect(manifest.packages.filter((p) => p.name === 'gpg-pubkey').map((p) => p.architecture)).toEqual(['']);
  });

  it('refuses unsigned packages', async () => {
    const { project, result } = await buildFrom(unsigned, 'unsigned');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kiln: error: Installing packages with dnf: Package \S+\.rpm is not signed/);
    expect(result.stderr).toContain('kiln: hint: RepositoryKeyCheck=yes: every package must be signed');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('refuses packages signed with another key', async () => {
    const { project, result } = await buildFrom(foreign, 'foreign');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kiln: error: Installing packages with dnf: .*GPG check FAILED/);
    expect(result.stderr).toContain('kiln: hint: RepositoryKeyCheck=yes: every package must be signed');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
  });
});
