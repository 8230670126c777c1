/**
 * OpenMandriva, as mkosi 14's install_openmandriva builds it: the main release and updates
 * repositories of the release's model (rock for numbered releases, cooker, rolling) from Mirror=,
 * OpenMandriva's mirror list when none is set, or the one LocalMirror= repository; installed with dnf.
 */
import type { Config } from '../config/types.js';
import { probeRepositories, under, type RpmPolicy, type RpmRepository } from '../package-managers/rpm-repos.js';
import type { Distribution } from './types.js';

const MIRROR_LIST = 'http://mirrors.openmandriva.org/mirrors.php';

/** The repository tree a release lives in: a numbered release is "rock". */
export function releaseModel(release: string): string {
  const bare = release.replaceAll("'", '');
  return /^\d/.test(bare) ? 'rock' : bare;
}

function rpmRepositories(config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'openmandriva', baseurl: config.LocalMirror }];
  const model = releaseModel(config.Release);
  if (config.Mirror) {
    const main = under(config.Mirror, `${model}/repository/${config.Architecture}/main`);
    return [
      { id: 'openmandriva', baseurl: `${main}/release/` },
      { id: 'updates', baseurl: `${main}/updates/` },
    ];
  }
  const list = `${MIRROR_LIST}?platform=${model}&arch=${config.Architecture}&repo=main`;
  return [
    { id: 'openmandriva', mirrorlist: `${list}&release=release` },
    { id: 'updates', mirrorlist: `${list}&release=updates` },
  ];
}

function basePackages(config: Config): string[] {
  if (config.BasePackages === false) return [];
  const conditional = [
    ...(config.Bootable ? ['(systemd-boot if systemd)', '(systemd-cryptsetup if systemd)'] : []),
    ...(config.Netdev ? ['(systemd-networkd if systemd)'] : []),
  ];
  if (config.BasePackages === 'conditional') return conditional;
  return ['basesystem-minimal', 'systemd', 'dnf', ...(config.Bootable ? ['kernel-release-server', 'dracut', 'timezone'] : []), ...conditional, ...(config.Ssh ? ['openssh-server'] : [])];
}

export const openmandriva: Distribution & RpmPolicy = {
  name: 'openmandriva',
  defaultMirror: () => null,
  mirrorLists: true,
  mirrorHint: 'set Mirror= to an OpenMandriva mirror, or LocalMirror= to a local repository',
  packageManager: 'dnf',
  basePackages,
  // dracut's own default name here.
  initrdPath: (version) => `boot/initramfs-${version}.img`,
  sshUnit: 'sshd.service',
  rpmRepositories,
  probe: (config) => probeRepositories(config, rpmRepositories(config)),
  releasever: (config) => config.Release.replaceAll("'", ''),
  // OpenMandriva's rpm.spec sets no other dbpath than rpm's default and lists its database files
  // under /var/lib/rpm (still so with rpm 6 in cooker); mkosi 14 put it there too.
  rpmDatabase: () => 'var/lib/rpm',
  gpgKeyCandidates: () => ['/etc/pki/rpm-gpg/RPM-GPG-KEY-OpenMandriva'],
};
