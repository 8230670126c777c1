/**
 * RepositoryKeyCheck=yes for Arch: kiln's pacman.conf (SigLevel = Required DatabaseOptional, the
 * host keyring in /etc/pacman.d/gnupg) makes the real pacman accept packages signed by a trusted
 * key and refuse unsigned ones or ones signed by a key the keyring does not trust. The host's /etc
 * is never changed: kiln runs with an overlay on /etc in a mount namespace of its own.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archPackages, missingFixtureInput } from '../fixtures/repos/packages.js';
import { buildPacmanRepo, missingPacmanRepoTools, type PacmanRepo } from '../fixtures/repos/pacman-repo.js';
import { makeLocalMirrorProject } from '../fixtures/repos/project.js';
import { makePacmanKeyring, makeTestKey, runWithEtc, signDetached } from '../fixtures/repos/signing.js';
import { KILN, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { nspawn } from './helpers/systemd.js';

const fixtureProblem = missingPacmanRepoTools() ?? missingFixtureInput();
const reason = whyNotRoot(['pacman', 'unshare', 'repo-add', 'bsdtar', 'gpg', 'systemd-nspawn'], fixtureProblem);

describe.skipIf(reason)('RepositoryKeyCheck=yes with pacman', () => {
  let workDir: string;
  let etc: string;
  let signed: PacmanRepo;
  let unsigned: PacmanRepo;
  let foreign: PacmanRepo;
  const projects: string[] = [];

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kiln-arch-signed-'));
    const key = await makeTestKey(path.join(workDir, 'key'));
    const stranger = await makeTestKey(path.join(workDir, 'stranger'), 'untrusted key');
    etc = path.join(workDir, 'etc');
    await makePacmanKeyring(key, path.join(etc, 'pacman.d/gnupg'));
    [signed, unsigned, foreign] = await Promise.all([
      buildPacmanRepo(path.join(workDir, 'signed'), archPackages(), { sign: (file) => signDetached(key, file) }),
      buildPacmanRepo(path.join(workDir, 'unsigned'), archPackages()),
      buildPacmanRepo(path.join(workDir, 'foreign'), archPackages(), { sign: (file) => signDetached(stranger, file) }),
    ]);
  });

  afterAll(async () => {
    for (const project of projects) await fs.rm(project, { recursive: true, force: true });
    await fs.rm(workDir, { recursive: true, force: true });
  });

  async function buildFrom(repo: PacmanRepo, name: string) {
    const project = await makeLocalMirrorProject({ distribution: 'arch', mirror: repo.url, format: 'directory' });
    projects.push(project);
    // The default, stated: signatures are checked.
    await fs.writeFile(
      path.join(project, 'mkosi.default'),
      (await fs.readFile(path.join(project, 'mkosi.default'), 'utf8')).replace('RepositoryKeyCheck=no', 'RepositoryKeyCheck=yes'),
    );
    const result = runWithEtc(etc, path.join(workDir, `overlay-${name}`), [KILN, '--cache', path.join(workDir, `cache-${name}`), 'build'], project);
    return { project, result };
  }

  it('installs packages signed by a key the host keyring trusts', async () => {
    const { project, result } = await buildFrom(signed, 'signed');
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    expect(nspawn(path.join(project, 'image'), ['/usr/bin/hello'])).toBe('hello from kiln-test-hello\n');
  });

  it('refuses unsigned packages', async () => {
    const { project, result } = await buildFrom(unsigned, 'unsigned');
    expect(result.status).toBe(1);
    // pacman looks for the signature it requires next to each package, and fails without it.
    expect(result.stderr).toMatch(/kiln: error: Installing packages with pacman: failed retrieving file '[^']+\.pkg\.tar\.zst\.sig'/);
    expect(result.stderr).toContain('kiln: hint: RepositoryKeyCheck=yes: every package must be signed');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('refuses packages signed by a key the keyring does not trust', async () => {
    const { project, result } = await buildFrom(foreign, 'foreign');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kiln: error: Installing packages with pacman: .*required key missing from keyring/);
    expect(result.stderr).toContain('kiln: hint: RepositoryKeyCheck=yes: every package must be signed');
    expect(existsSync(path.join(project, 'image'))).toBe(false);
  });
});
