import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  detectDistribution,
  detectHost,
  findArchiveMirror,
  parseDeb822Sources,
  parseSourcesList,
  readAptSources,
  readOsRelease,
} from '../../../src/config/host.js';

const DEBIAN_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;

describe('readOsRelease', () => {
  it('reads KEY=value lines, unquoting values and skipping the rest', () => {
    expect(readOsRelease(`${DEBIAN_OS_RELEASE}# comment\nnot a line\nEMPTY=\nSINGLE='x y'\n`)).toEqual({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      NAME: 'Debian GNU/Linux',
      VERSION_ID: '12',
      VERSION: '12 (bookworm)',
      VERSION_CODENAME: 'bookworm',
      ID: 'debian',
      EMPTY: '',
      SINGLE: 'x y',
    });
  });
});

describe('detectDistribution (mkosi detect_distribution)', () => {
  it('uses the codename as the release of Debian and Ubuntu', () => {
    expect(detectDistribution(readOsRelease(DEBIAN_OS_RELEASE))).toEqual({ distribution: 'debian', release: 'bookworm' });
    expect(detectDistribution({ ID: 'ubuntu', VERSION_ID: '22.04', VERSION: '22.04.3 LTS (Jammy Jellyfish)' })).toEqual({
      distribution: 'ubuntu',
      release: 'Jammy Jellyfish',
    });
  });
  it('uses VERSION_ID elsewhere', () => {
    expect(detectDistribution({ ID: 'fedora', VERSION_ID: '38' })).toEqual({ distribution: 'fedora', release: '38' });
    expect(detectDistribution({ ID: 'arch' })).toEqual({ distribution: 'arch', release: null });
  });
  it('falls back to ID_LIKE', () => {
    expect(detectDistribution({ ID: 'raspbian', ID_LIKE: 'debian', VERSION_CODENAME: 'bookworm' })).toEqual({
      distribution: 'debian',
      release: 'bookworm',
    });
  });
  it('gives null for a distribution mkosi does not know', () => {
    expect(detectDistribution({ ID: 'nixos', VERSION_ID: '23.05' }).distribution).toBeNull();
    expect(detectDistribution({}).distribution).toBeNull();
  });
});

describe('apt sources', () => {
  it('reads one-line sources, skipping comments, deb-src and options', () => {
    const text = [
      '# the archive',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://127.0.0.1:3142/debian/ bookworm main contrib',
      'deb-src http://127.0.0.1:3142/debian bookworm main',
      'deb file:///srv/mirror/debian-security bookworm-security main # security',
      'deb http://127.0.0.1/short',
      '',
    ].join('\n');
    expect(parseSourcesList(text)).toEqual([
      { uri: 'http://127.0.0.1:3142/debian/', suites: ['bookworm'], components: ['main', 'contrib'] },
      { uri: 'file:///srv/mirror/debian-security', suites: ['bookworm-security'], components: ['main'] },
    ]);
  });

  it('reads deb822 paragraphs, with several values, continuation lines and Enabled: no', () => {
    const text = [
      'Types: deb deb-src',
      'URIs: file:///srv/mirror/debian http://127.0.0.1/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      ' non-free-firmware',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      '# disabled',
      'Types: deb',
      'URIs: http://127.0.0.1/off',
      'Suites: bookworm',
      'Components: main',
      'Enabled: no',
      '',
      'Types: deb-src',
      'URIs: http://127.0.0.1/src',
      'Suites: bookworm',
      'Components: main',
    ].join('\n');
    expect(parseDeb822Sources(text)).toEqual([
      { uri: 'file:///srv/mirror/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main', 'non-free-firmware'] },
      { uri: 'http://127.0.0.1/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main', 'non-free-firmware'] },
    ]);
  });

  it('finds the archive mirror: the host release as a plain suite, with main, without a trailing slash', () => {
    const sources = parseSourcesList(
      [
        'deb file:///srv/mirror/debian-security bookworm-security main',
        'deb http://127.0.0.1/other trixie main',
        'deb http://127.0.0.1/nomain bookworm contrib',
        'deb http://127.0.0.1:3142/debian/ bookworm main',
      ].join('\n'),
    );
    expect(findArchiveMirror(sources, 'bookworm')).toBe('http://127.0.0.1:3142/debian');
    expect(findArchiveMirror(sources, 'sid')).toBeNull();
    expect(findArchiveMirror(sources, null)).toBeNull();
  });
});

describe('readAptSources and detectHost on a fake root', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-host-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'etc/apt/sources.list.d'), { recursive: true });
  writeFileSync(path.join(root, 'etc/os-release'), DEBIAN_OS_RELEASE);
  writeFileSync(path.join(root, 'etc/apt/sources.list'), '# moved to deb822\n');
  writeFileSync(
    path.join(root, 'etc/apt/sources.list.d/debian.sources'),
    'Types: deb\nURIs: file:///srv/mirror/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n',
  );
  writeFileSync(path.join(root, 'etc/apt/sources.list.d/extra.list'), 'deb http://127.0.0.1/extra bookworm main\n');
  writeFileSync(path.join(root, 'etc/apt/sources.list.d/ignored.save'), 'deb http://127.0.0.1/ignored bookworm main\n');

  it('reads sources.list and sources.list.d/*.list and *.sources in order', () => {
    expect(readAptSources(path.join(root, 'etc/apt')).map((s) => s.uri)).toEqual(['file:///srv/mirror/debian/', 'http://127.0.0.1/extra']);
  });

  it('detects the distribution, release and Debian mirror of the host', () => {
    expect(detectHost(root)).toMatchObject({
      distribution: 'debian',
      release: 'bookworm',
      debianMirror: 'file:///srv/mirror/debian',
      architecture: os.machine(),
    });
  });

  it('has no Debian mirror on a host that is not Debian', () => {
    const fedora = mkdtempSync(path.join(os.tmpdir(), 'kiln-host-'));
    try {
      mkdirSync(path.join(fedora, 'usr/lib'), { recursive: true });
      writeFileSync(path.join(fedora, 'usr/lib/os-release'), 'ID=fedora\nVERSION_ID=38\n');
      expect(detectHost(fedora)).toMatchObject({ distribution: 'fedora', release: '38', debianMirror: null });
    } finally {
      rmSync(fedora, { recursive: true, force: true });
    }
  });
});
