import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fedora, parseFedoraRelease } from '../../../src/distributions/fedora.js';
import { UserError } from '../../../src/errors.js';
import { parseRpmList } from '../../../src/package-managers/rpm-database.js';
import { renderDnfConf, renderRepoFile, repositoryFlags, repositoryIdsIn, sortPackages } from '../../../src/package-managers/rpm-repos.js';
import { configOf } from './config-of.js';

const FEDORA = '[Distribution]\nDistribution=fedora\nArchitecture=x86_64\n';

describe('Fedora policy (distributions/fedora.ts)', () => {
  it('puts the release and updates repositories under Mirror=', () => {
    const config = configOf(`${FEDORA}Release=38\nMirror=http://127.0.0.1/fedora/\n`);
    expect(fedora.rpmRepositories(config)).toEqual([
      { id: 'fedora', baseurl: 'http://127.0.0.1/fedora/releases/38/Everything/$basearch/os/' },
      { id: 'updates', baseurl: 'http://127.0.0.1/fedora/updates/38/Everything/$basearch/' },
    ]);
    expect(fedora.releasever(config)).toBe('38');
  });

  it('uses LocalMirror= as the single repository', () => {
    const config = configOf(`${FEDORA}Release=38\nMirror=http://127.0.0.1/fedora\nLocalMirror=file:///srv/rpms\n`);
    expect(fedora.rpmRepositories(config)).toEqual([{ id: 'fedora', baseurl: 'file:///srv/rpms' }]);
  });

  it('knows rawhide has no updates repository and takes $releasever from rawhide-N', () => {
    const config = configOf(`${FEDORA}Release=rawhide-40\nMirror=http://127.0.0.1/fedora\n`);
    expect(fedora.rpmRepositories(config).map((r) => r.id)).toEqual(['fedora']);
    expect(fedora.rpmRepositories(config)[0]).toMatchObject({ baseurl: expect.stringContaining('/releases/rawhide/') });
    expect(fedora.releasever(config)).toBe('40');
    expect(parseFedoraRelease('38')).toEqual({ release: '38', releasever: '38' });
  });

  it('probes the index of the first repository before building', () => {
    expect(fedora.probe?.(configOf(`${FEDORA}Release=38\nMirror=http://127.0.0.1/fedora\n`))).toEqual({
      url: 'http://127.0.0.1/fedora/releases/38/Everything/x86_64/os/repodata/repomd.xml',
      setting: 'Mirror',
    });
    expect(fedora.probe?.(configOf(`${FEDORA}LocalMirror=file:///srv/rpms\n`))).toEqual({ url: 'file:///srv/rpms/repodata/repomd.xml', setting: 'LocalMirror' });
  });

  it('keeps the RPM database where each release\'s rpm looks for it', () => {
    expect(fedora.rpmDatabase(configOf(`${FEDORA}Release=35\n`))).toBe('var/lib/rpm');
    expect(fedora.rpmDatabase(configOf(`${FEDORA}Release=36\n`))).toBe('usr/lib/sysimage/rpm');
    expect(fedora.rpmDatabase(configOf(`${FEDORA}Release=rawhide\n`))).toBe('usr/lib/sysimage/rpm');
  });

  it('has mkosi 14\'s base packages, and only rich dependencies for BasePackages=conditional', () => {
    expect(fedora.basePackages(configOf(FEDORA))).toEqual(['systemd', 'util-linux', 'dnf']);
    expect(fedora.basePackages(configOf(`${FEDORA}[Content]\nBasePackages=no\n`))).toEqual([]);
    expect(fedora.basePackages(configOf(`${FEDORA}[Content]\nBasePackages=conditional\n`))).toEqual([]);
    const bootable = { ...configOf(`${FEDORA}[Content]\nBasePackages=conditional\n`), Bootable: true };
    expect(fedora.basePackages(bootable)).toEqual(['(systemd-udev if systemd)']);
    const full = { ...configOf(FEDORA), Bootable: true };
    expect(fedora.basePackages(full)).toEqual(['systemd', 'util-linux', 'dnf', 'kernel-core', 'kernel-modules', 'dracut', 'systemd-boot-unsigned', '(systemd-udev if systemd)']);
  });

  it('looks for the signing key of the release on the host', () => {
    expect(fedora.gpgKeyCandidates(configOf(`${FEDORA}Release=38\n`))[0]).toBe('/etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-38-x86_64');
  });
});

describe('dnf configuration files', () => {
  it('writes one section per repository', () => {
    const gpgKey = 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-38-x86_64';
    const text = renderRepoFile([
      { repository: { id: 'fedora', baseurl: 'http://127.0.0.1/f/releases/38/Everything/$basearch/os/' }, gpgCheck: true, gpgKey },
      { repository: { id: 'updates', baseurl: 'http://127.0.0.1/f/updates/38/Everything/$basearch/' }, gpgCheck: true, gpgKey },
    ]);
    expect(text).toBe(
      [
        '[fedora]',
        'name=fedora',
        'baseurl=http://127.0.0.1/f/releases/38/Everything/$basearch/os/',
        'enabled=1',
        'gpgcheck=1',
        'gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-38-x86_64',
        '',
        '[updates]',
        'name=updates',
        'baseurl=http://127.0.0.1/f/updates/38/Everything/$basearch/',
        'enabled=1',
        'gpgcheck=1',
        'gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-38-x86_64',
        '',
      ].join('\n'),
    );
  });

  it('turns signature checks off without a key, in the repositories and in dnf.conf', () => {
    const text = renderRepoFile([{ repository: { id: 'fedora', baseurl: 'file:///srv/rpms' }, gpgCheck: false }]);
    expect(text).toContain('gpgcheck=0');
    expect(text).not.toContain('gpgkey');
    expect(renderDnfConf({ gpgCheck: false })).toMatch(/^\[main\]\ngpgcheck=0\n/);
    expect(renderDnfConf({ gpgCheck: true })).toMatch(/^\[main\]\ngpgcheck=1\n/);
  });

  it('refuses URLs a .repo file cannot hold, and keeps the query strings of mirror lists as they are', () => {
    for (const baseurl of ['http://127.0.0.1/#x', 'http://127.0.0.1/a;b', ' http://127.0.0.1/', 'http://127.0.0.1/\nx=y']) {
      expect(() => renderRepoFile([{ repository: { id: 'fedora', baseurl }, gpgCheck: false }])).toThrow(UserError);
    }
    const metalink = 'https://mirrors.fedoraproject.org/metalink?repo=fedora-38&arch=$basearch';
    expect(renderRepoFile([{ repository: { id: 'fedora', metalink }, gpgCheck: false }])).toContain(`\nmetalink=${metalink}\n`);
  });

  it('enables only the repositories Repositories= names, and refuses unknown ones', () => {
    const defined = ['fedora', 'updates'];
    expect(repositoryFlags([], defined)).toEqual([]);
    // UseHostRepositories=: the host's files decide which ids exist.
    expect(repositoryFlags(['anything'], undefined)).toEqual(['--disablerepo=*', '--enablerepo=anything']);
    expect(repositoryFlags(['updates'], defined)).toEqual(['--disablerepo=*', '--enablerepo=updates']);
    expect(() => repositoryFlags(['updates-testing'], defined)).toThrow(/updates-testing.*no such repository/);
  });

  it('reads the repository ids of RepositoryDirectory=\'s .repo files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-reposdir-'));
    try {
      writeFileSync(path.join(dir, 'b.repo'), '[mine]\nname=mine\nbaseurl=file:///srv/mine\n\n[mine-debug]\nbaseurl=file:///srv/debug\n');
      writeFileSync(path.join(dir, 'a.repo'), '[other]\nbaseurl=http://127.0.0.1/other\n');
      writeFileSync(path.join(dir, 'notes.txt'), '[not-a-repo]\n');
      expect(await repositoryIdsIn(dir)).toEqual(['other', 'mine', 'mine-debug']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('orders packages as mkosi 14 does: names, then paths, then rich dependencies', () => {
    expect(sortPackages(['(b if c)', '/usr/bin/x', 'vim', 'dnf', '(a if c)'])).toEqual(['dnf', 'vim', '/usr/bin/x', '(a if c)', '(b if c)']);
  });
});

describe('parseRpmList', () => {
  it('keeps whole versions, epochs included, and blanks the architecture of keys', () => {
    const stdout = [
      'systemd\t253.2-1.fc38\tx86_64',
      'shadow-utils\t2:4.13-6.fc38\tx86_64',
      'gpg-pubkey\teb10b464-6202d9c6\t(none)',
      'kernel-core\t6.2.9-300.fc38\tx86_64',
      'kernel-core\t6.2.15-300.fc38\tx86_64',
    ].join('\n');
    expect(parseRpmList(stdout)).toEqual([
      { type: 'rpm', name: 'gpg-pubkey', version: 'eb10b464-6202d9c6', architecture: '' },
      { type: 'rpm', name: 'kernel-core', version: '6.2.15-300.fc38', architecture: 'x86_64' },
      { type: 'rpm', name: 'kernel-core', version: '6.2.9-300.fc38', architecture: 'x86_64' },
      { type: 'rpm', name: 'shadow-utils', version: '2:4.13-6.fc38', architecture: 'x86_64' },
      { type: 'rpm', name: 'systemd', version: '253.2-1.fc38', architecture: 'x86_64' },
    ]);
  });
});
