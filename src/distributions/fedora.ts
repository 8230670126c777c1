/**
 * Fedora: the release and updates repositories under Mirror= (Fedora's mirror layout), Fedora's
 * metalinks when no mirror is set (as in mkosi 14), or the single repository LocalMirror= names;
 * installed with dnf.
 */
import { isDiskFormat } from '../config/derived.js';
import type { Config } from '../config/types.js';
import { probeRepositories, under, type RpmPolicy, type RpmRepository } from '../package-managers/rpm-repos.js';
import type { Distribution } from './types.js';

/** Release=rawhide-38 means rawhide, whose $releasever is 38 (as in mkosi 14). */
export function parseFedoraRelease(release: string): { release: string; releasever: string } {
  const match = /^rawhide-(\S+)$/.exec(release);
  return match ? { release: 'rawhide', releasever: match[1]! } : { release, releasever: release };
}

const METALINK = 'https://mirrors.fedoraproject.org/metalink';

function rpmRepositories(config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'fedora', baseurl: config.LocalMirror }];
  const { release } = parseFedoraRelease(config.Release);
  const repositories: RpmRepository[] = config.Mirror
    ? [
        { id: 'fedora', baseurl: under(config.Mirror, `releases/${release}/Everything/$basearch/os/`) },
        { id: 'updates', baseurl: under(config.Mirror, `updates/${release}/Everything/$basearch/`) },
      ]
    : [
        { id: 'fedora', metalink: `${METALINK}?repo=fedora-${release}&arch=$basearch` },
        { id: 'updates', metalink: `${METALINK}?repo=updates-released-f${release}&arch=$basearch` },
      ];
  // Rawhide has no separate updates repository.
  return release === 'rawhide' ? repositories.slice(0, 1) : repositories;
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
  // systemd-boot-unsigned and openssh-server are kiln's additions: mkosi 14 ran bootctl from the host
  // and left the ssh server to Packages=.
  const boot = config.Bootable ? ['kernel-core', 'kernel-modules', 'dracut', ...(isDiskFormat(config.Format) ? ['systemd-boot-unsigned'] : [])] : [];
  return ['systemd', 'util-linux', 'dnf', ...boot, ...conditional, ...(config.Ssh ? ['openssh-server'] : [])];
}

export const fedora: Distribution & RpmPolicy = {
  name: 'fedora',
  defaultMirror: () => null,
  mirrorLists: true,
  mirrorHint: 'set Mirror= to a Fedora mirror, or LocalMirror= to a local repository',
  packageManager: 'dnf',
  basePackages,
  // dracut's own default name on Fedora.
  initrdPath: (version) => `boot/initramfs-${version}.img`,
  sshUnit: 'sshd.service',
  rpmRepositories,
  probe: (config) => probeRepositories(config, rpmRepositories(config)),
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
