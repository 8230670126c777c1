/**
 * Fedora: the release and updates repositories under Mirror= (Fedora's mirror layout), or the single
 * repository LocalMirror= names, installed with dnf.
 */
import type { Config } from '../config/types.js';
import type { DnfPolicy, RpmRepository } from '../package-managers/dnf-repos.js';
import type { Distribution } from './types.js';

/** Release=rawhide-38 means rawhide, whose $releasever is 38 (as in mkosi 14). */
export function parseFedoraRelease(release: string): { release: string; releasever: string } {
  const match = /^rawhide-(\S+)$/.exec(release);
  return match ? { release: 'rawhide', releasever: match[1]! } : { release, releasever: release };
}

function dnfRepositories(config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'fedora', baseurl: config.LocalMirror }];
  if (!config.Mirror) return [];
  const mirror = config.Mirror.replace(/\/+$/, '');
  const { release } = parseFedoraRelease(config.Release);
  const repositories = [{ id: 'fedora', baseurl: `${mirror}/releases/${release}/Everything/$basearch/os/` }];
  // Rawhide has no separate updates repository.
  if (release !== 'rawhide') repositories.push({ id: 'updates', baseurl: `${mirror}/updates/${release}/Everything/$basearch/` });
  return repositories;
}

/** Fedora 36 moved the RPM database to /usr/lib/sysimage/rpm (with /var/lib/rpm a symlink to it). */
function rpmDatabase(config: Config): string {
  const { releasever } = parseFedoraRelease(config.Release);
  const number = Number.parseInt(releasever, 10);
  return Number.isFinite(number) && number < 36 ? 'var/lib/rpm' : 'usr/lib/sysimage/rpm';
}

/** mkosi 14's choice; rich dependencies "(a if b)" are the part BasePackages=conditional keeps. */
function basePackages(config: Config): string[] {
  if (config.BasePackages === false) return [];
  const conditional = [
    ...(config.Bootable ? ['(systemd-udev if systemd)'] : []),
    ...(config.Netdev ? ['(systemd-networkd if systemd)'] : []),
  ];
  if (config.BasePackages === 'conditional') return conditional;
  return ['systemd', 'util-linux', 'dnf', ...(config.Bootable ? ['kernel-core', 'kernel-modules', 'dracut'] : []), ...conditional];
}

export const fedora: Distribution & DnfPolicy = {
  name: 'fedora',
  defaultMirror: () => null,
  mirrorHint: 'set Mirror= to a Fedora mirror, or LocalMirror= to a local repository',
  packageManager: 'dnf',
  basePackages,
  dnfRepositories,
  // The first repository's index: a wrong URL or Release= fails before the build, not inside dnf.
  probe: (config) => {
    const first = dnfRepositories(config)[0];
    if (!first) return undefined;
    const url = `${first.baseurl.replace('$basearch', config.Architecture).replace(/\/+$/, '')}/repodata/repomd.xml`;
    return { url, setting: config.LocalMirror ? 'LocalMirror' : 'Mirror' };
  },
  releasever: (config) => parseFedoraRelease(config.Release).releasever,
  rpmDatabase,
  gpgKeyCandidates: (config) => {
    const { releasever } = parseFedoraRelease(config.Release);
    return [
      `/etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-${releasever}-${config.Architecture}`,
      `/etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-${releasever}-primary`,
      `/usr/share/distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-${releasever}-primary`,
    ];
  },
};
