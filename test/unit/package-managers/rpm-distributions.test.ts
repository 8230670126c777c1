/** The RPM distributions' policies: mkosi 14's repositories, mirror lists and release handling. */
import { describe, expect, it } from 'vitest';
import { alma, almaEpel } from '../../../src/distributions/alma.js';
import { centos, centosEpel } from '../../../src/distributions/centos.js';
import { parseEpelRelease } from '../../../src/distributions/centos-variants.js';
import { fedora } from '../../../src/distributions/fedora.js';
import { mageia } from '../../../src/distributions/mageia.js';
import { openmandriva, releaseModel } from '../../../src/distributions/openmandriva.js';
import { opensuse } from '../../../src/distributions/opensuse.js';
import { rocky, rockyEpel } from '../../../src/distributions/rocky.js';
import { configOf } from './config-of.js';

const config = (distribution: string, lines = ''): ReturnType<typeof configOf> =>
  configOf(`[Distribution]\nDistribution=${distribution}\nArchitecture=x86_64\n${lines}`);

describe('default repositories without Mirror= (mkosi 14\'s mirror lists and metalinks)', () => {
  it('Fedora: the release and updates metalinks', () => {
    expect(fedora.rpmRepositories(config('fedora', 'Release=38\n'))).toEqual([
      { id: 'fedora', metalink: 'https://mirrors.fedoraproject.org/metalink?repo=fedora-38&arch=$basearch' },
      { id: 'updates', metalink: 'https://mirrors.fedoraproject.org/metalink?repo=updates-released-f38&arch=$basearch' },
    ]);
  });

  it('CentOS Stream 9: AppStream, BaseOS and CRB metalinks; with EPEL its mirror list and key', () => {
    const repositories = centosEpel.rpmRepositories(config('centos_epel', 'Release=9-stream\n'));
    expect(repositories.map((r) => r.id)).toEqual(['AppStream', 'BaseOS', 'CRB', 'epel']);
    expect(repositories[0]).toEqual({ id: 'AppStream', metalink: 'https://mirrors.centos.org/metalink?repo=centos-appstream-9-stream&arch=$basearch' });
    expect(repositories[3]).toEqual({
      id: 'epel',
      mirrorlist: 'https://mirrors.fedoraproject.org/mirrorlist?repo=epel-9&arch=$basearch',
      gpgKeyCandidates: ['/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-9'],
    });
    expect(centos.dnfVariables?.(config('centos', 'Release=9-stream\n'))).toEqual({ stream: '9-stream' });
  });

  it('Rocky and Alma 8: AppStream, BaseOS, extras and PowerTools from their own mirror lists', () => {
    expect(rocky.rpmRepositories(config('rocky', 'Release=8\n'))).toEqual(
      ['AppStream', 'BaseOS', 'extras', 'PowerTools'].map((id) => ({ id, mirrorlist: `https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=${id}-8` })),
    );
    expect(alma.rpmRepositories(config('alma', 'Release=8\n'))[3]).toEqual({ id: 'PowerTools', mirrorlist: 'https://mirrors.almalinux.org/mirrorlist/8/powertools' });
  });

  it('Mageia and OpenMandriva: their mirror lists', () => {
    expect(mageia.rpmRepositories(config('mageia', 'Release=8\n'))[0]).toEqual({
      id: 'mageia',
      mirrorlist: 'https://www.mageia.org/mirrorlist/?release=8&arch=x86_64&section=core&repo=release',
    });
    expect(openmandriva.rpmRepositories(config('openmandriva', 'Release=4.3\n'))[1]).toEqual({
      id: 'updates',
      mirrorlist: 'http://mirrors.openmandriva.org/mirrors.php?platform=rock&arch=x86_64&repo=main&release=updates',
    });
  });
});

describe('repositories under Mirror=', () => {
  it('CentOS variants: the mirror directory of each, and EPEL beside them', () => {
    const rockyRepos = rockyEpel.rpmRepositories(config('rocky_epel', 'Release=8.6\nMirror=http://127.0.0.1/m/\n'));
    expect(rockyRepos.map((r) => ('baseurl' in r ? r.baseurl : ''))).toEqual([
      'http://127.0.0.1/m/rocky/8.6/AppStream/$basearch/os',
      'http://127.0.0.1/m/rocky/8.6/BaseOS/$basearch/os',
      'http://127.0.0.1/m/rocky/8.6/extras/$basearch/os',
      'http://127.0.0.1/m/rocky/8.6/PowerTools/$basearch/os',
      'http://127.0.0.1/m/epel/8/Everything/$basearch',
    ]);
    const stream = centos.rpmRepositories(config('centos', 'Release=9-stream\nMirror=http://127.0.0.1/m\n'));
    expect(stream[2]).toEqual({ id: 'CRB', baseurl: 'http://127.0.0.1/m/centos-stream/9-stream/CRB/$basearch/os' });
    expect(almaEpel.rpmRepositories(config('alma_epel', 'Release=9\nMirror=http://127.0.0.1/m\n'))[0]).toEqual({
      id: 'AppStream',
      baseurl: 'http://127.0.0.1/m/almalinux/9/AppStream/$basearch/os',
    });
  });

  it('openSUSE: Tumbleweed, Leap by version and the named releases, as mkosi 14 reads Release=', () => {
    const urls = (release: string): string[] =>
      opensuse.rpmRepositories(config('opensuse', `Release=${release}\n`)).map((r) => ('baseurl' in r ? r.baseurl : ''));
    expect(urls('tumbleweed')).toEqual(['http://download.opensuse.org/tumbleweed/repo/oss/', 'http://download.opensuse.org/update/tumbleweed/']);
    expect(urls('20230101')).toEqual(urls('tumbleweed'));
    expect(urls('15.4')).toEqual(['http://download.opensuse.org/distribution/leap/15.4/repo/oss/', 'http://download.opensuse.org/update/leap/15.4/oss/']);
    expect(urls('stable')[1]).toBe('http://download.opensuse.org/update/openSUSE-stable/');
    expect(opensuse.rpmDatabase(config('opensuse', 'Release=15.4\n'))).toBe('var/lib/rpm');
    expect(opensuse.rpmRepositories(config('opensuse', 'LocalMirror=file:///srv/r\n'))).toEqual([{ id: 'local-mirror', baseurl: 'file:///srv/r' }]);
  });

  it('OpenMandriva: the release model of numbered releases is rock', () => {
    expect(releaseModel('4.3')).toBe('rock');
    expect(releaseModel("'cooker'")).toBe('cooker');
    expect(openmandriva.rpmRepositories(config('openmandriva', 'Release=rolling\nMirror=http://127.0.0.1/om\n'))[0]).toEqual({
      id: 'openmandriva',
      baseurl: 'http://127.0.0.1/om/rolling/repository/x86_64/main/release/',
    });
  });
});

describe('package sets and releases', () => {
  it('has mkosi 14\'s base packages', () => {
    expect(opensuse.basePackages(config('opensuse', '[Output]\nFormat=subvolume\n'))).toEqual(['systemd', 'glibc-locale-base', 'zypper', 'patterns-base-minimal_base', 'btrfsprogs']);
    expect(opensuse.basePackages(config('opensuse', 'Release=42.3\n'))).toContain('patterns-openSUSE-minimal_base');
    expect(centos.basePackages(config('centos'))).toEqual(['systemd', 'dnf']);
    expect(almaEpel.basePackages(config('alma_epel', 'Release=9\n'))).toEqual(['systemd', 'dnf', '(systemd-boot if systemd)']);
    expect(mageia.basePackages(config('mageia'))).toEqual(['basesystem-minimal', 'dnf']);
    expect(openmandriva.basePackages(config('openmandriva'))).toEqual(['basesystem-minimal', 'systemd', 'dnf']);
  });

  it('reads EPEL releases as mkosi 14 does, and refuses CentOS 7', () => {
    expect(parseEpelRelease('8.6')).toBe(8);
    expect(parseEpelRelease('9-stream')).toBe(9);
    expect(centos.unsupportedRelease?.(config('centos', 'Release=7\n'))).toBe('Release=7: CentOS 7 and earlier are not supported (nor by mkosi 14)');
    expect(rocky.unsupportedRelease?.(config('rocky', 'Release=9\n'))).toBeUndefined();
  });

  it('has the image\'s rpm rebuild the database as Berkeley DB up to 8 (its rpm 4.14 cannot write sqlite)', () => {
    const backend = (name: string, release: string): string | undefined => {
      const distribution = { centos, centos_epel: centosEpel, rocky, alma_epel: almaEpel }[name]!;
      return distribution.imageDatabaseBackend?.(config(name, `Release=${release}\n`));
    };
    expect(backend('centos', '8-stream')).toBe('bdb');
    expect(backend('rocky', '8.6')).toBe('bdb');
    expect(backend('alma_epel', '8')).toBe('bdb');
    expect(backend('centos_epel', '9-stream')).toBeUndefined();
    expect(backend('rocky', '9')).toBeUndefined();
    // The others' rpm writes sqlite itself.
    for (const distribution of [fedora, opensuse, mageia, openmandriva]) expect(distribution.imageDatabaseBackend).toBeUndefined();
  });

  it('Mageia, bootable: a dracut drop-in after Mageia\'s own that puts systemd back and keeps HostonlyInitrd= (mkosi 14)', () => {
    const dropins = (lines: string): Readonly<Record<string, string>> | undefined => mageia.dracutDropins?.(config('mageia', lines));
    expect(dropins('[Output]\nBootable=yes\n')).toEqual({ '51-kiln-override-mageia.conf': 'hostonly=no\nomit_dracutmodules=""\n' });
    expect(dropins('[Output]\nBootable=yes\nHostonlyInitrd=yes\n')).toEqual({ '51-kiln-override-mageia.conf': 'hostonly=yes\nomit_dracutmodules=""\n' });
    expect(dropins('')).toEqual({});
    // It sorts after 50-mageia.conf, so dracut reads it last.
    expect(Object.keys(dropins('[Output]\nBootable=yes\n')!)[0]! > '50-mageia.conf').toBe(true);
    expect(openmandriva.dracutDropins).toBeUndefined();
  });
});
