/**
 * CentOS and its rebuilds (Rocky Linux, AlmaLinux), each with or without EPEL, as mkosi 14's
 * install_centos_variant builds them: AppStream, BaseOS, extras and PowerTools for 8 and for the
 * rebuilds (CentOS Stream 9 and later: AppStream, BaseOS and CRB), plus EPEL for the _epel variants;
 * from Mirror=, the distribution's mirror lists when none is set, or the one LocalMirror= repository.
 * Each distribution file only names its mirror directory, mirror lists and key.
 */
import type { Config, DistributionName } from '../config/types.js';
import { probeRepositories, under, type RpmPolicy, type RpmRepository } from '../package-managers/rpm-repos.js';
import type { Distribution } from './types.js';

export interface CentosVariant {
  readonly name: DistributionName;
  readonly epel: boolean;
  /** The directory of this distribution on a mirror (centos, rocky, almalinux). */
  readonly mirrorDirectory: string;
  /** The mirror list of one repository (AppStream, BaseOS, extras, PowerTools) of a release. */
  mirrorList(release: string, repository: string): string;
  /** Where the host keeps its signing key for a major release. */
  keyFile(major: number): string;
  readonly label: string;
}

/** The EPEL release a release belongs to: 8 for 8.6 and 8-stream, 9 for 9-stream. */
export function parseEpelRelease(release: string): number {
  const first = release.split('.')[0] ?? '';
  return Number.parseInt(first.endsWith('-stream') ? first.split('-')[0]! : first, 10);
}

const FEDORA_MIRRORS = 'https://mirrors.fedoraproject.org';
const CENTOS_METALINK = 'https://mirrors.centos.org/metalink';

function epelRepository(config: Config, major: number): RpmRepository {
  const gpgKeyCandidates = [`/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-${major}`];
  return config.Mirror
    ? { id: 'epel', baseurl: under(config.Mirror, `epel/${major}/Everything/$basearch`), gpgKeyCandidates }
    : { id: 'epel', mirrorlist: `${FEDORA_MIRRORS}/mirrorlist?repo=epel-${major}&arch=$basearch`, gpgKeyCandidates };
}

/** mkosi 14's centos_variant_repos and centos_stream_repos. */
function repositoriesOf(variant: CentosVariant, config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'AppStream', baseurl: config.LocalMirror }];
  const major = parseEpelRelease(config.Release);
  const stream = major > 8 && config.Release.includes('-stream');
  const names = stream ? ['AppStream', 'BaseOS', 'CRB'] : ['AppStream', 'BaseOS', 'extras', 'PowerTools'];
  const release = stream ? `${major}-stream` : config.Release;
  const repositories: RpmRepository[] = names.map((id) => {
    if (config.Mirror) {
      const layout = stream ? `centos-stream/${release}/${id}/$basearch/os` : `${variant.mirrorDirectory}/${release}/${id}/$basearch/os`;
      return { id, baseurl: under(config.Mirror, layout) };
    }
    if (stream) return { id, metalink: `${CENTOS_METALINK}?repo=centos-${id.toLowerCase()}-${release}&arch=$basearch` };
    return { id, mirrorlist: variant.mirrorList(release, id) };
  });
  return variant.epel ? [...repositories, epelRepository(config, major)] : repositories;
}

/** mkosi 14's package set: systemd and dnf; the EPEL variants add networkd and systemd-boot (9+). */
function basePackagesOf(variant: CentosVariant, config: Config): string[] {
  if (config.BasePackages === false) return [];
  const major = parseEpelRelease(config.Release);
  const conditional = [
    ...(config.Bootable ? ['(systemd-udev if systemd)'] : []),
    ...(variant.epel && config.Netdev ? ['(systemd-networkd if systemd)'] : []),
    ...(variant.epel && major >= 9 ? ['(systemd-boot if systemd)'] : []),
  ];
  if (config.BasePackages === 'conditional') return conditional;
  return ['systemd', 'dnf', ...(config.Bootable ? ['kernel', 'dracut'] : []), ...conditional, ...(config.Ssh ? ['openssh-server'] : [])];
}

export function centosVariant(variant: CentosVariant): Distribution & RpmPolicy {
  const rpmRepositories = (config: Config): RpmRepository[] => repositoriesOf(variant, config);
  return {
    name: variant.name,
    defaultMirror: () => null,
    mirrorLists: true,
    mirrorHint: `set Mirror= to a ${variant.label} mirror, or LocalMirror= to a local repository`,
    packageManager: 'dnf',
    basePackages: (config) => basePackagesOf(variant, config),
    // dracut's own default name here.
    initrdPath: (version) => `boot/initramfs-${version}.img`,
    sshUnit: 'sshd.service',
    rpmRepositories,
    probe: (config) => probeRepositories(config, rpmRepositories(config)),
    releasever: (config) => config.Release,
    // CentOS Stream 9 still keeps it in /var/lib/rpm; the move to /usr/lib/sysimage came with 10.
    rpmDatabase: (config) => (parseEpelRelease(config.Release) >= 10 ? 'usr/lib/sysimage/rpm' : 'var/lib/rpm'),
    // rpm 4.14 of 8 and earlier reads sqlite but writes only Berkeley DB (mkosi 14 rebuilds it so).
    imageDatabaseBackend: (config) => (parseEpelRelease(config.Release) <= 8 ? 'bdb' : undefined),
    gpgKeyCandidates: (config) => [variant.keyFile(parseEpelRelease(config.Release))],
    dnfVariables: (config): Record<string, string> => (config.Release.includes('-stream') ? { stream: config.Release } : {}),
    unsupportedRelease: (config) => {
      const major = parseEpelRelease(config.Release);
      if (!Number.isFinite(major)) return `Release=${config.Release} is not a ${variant.label} release (such as 8 or 9-stream)`;
      return major <= 7 ? `Release=${config.Release}: ${variant.label} 7 and earlier are not supported (nor by mkosi 14)` : undefined;
    },
  };
}
