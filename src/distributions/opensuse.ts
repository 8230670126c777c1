/**
 * openSUSE, as mkosi 14's install_opensuse builds it: Tumbleweed (tumbleweed or a snapshot date) or
 * Leap (a version, leap, current, stable), the OSS and update repositories under Mirror= (default:
 * openSUSE's download server), or the one LocalMirror= repository while building; installed with
 * zypper, which imports the repositories' own keys (no host keyring needed, as in mkosi 14).
 */
import { isDiskFormat } from '../config/derived.js';
import type { Config } from '../config/types.js';
import { probeRepositories, under, type RpmPolicy, type RpmRepository } from '../package-managers/rpm-repos.js';
import type { Distribution } from './types.js';

const DOWNLOAD = 'http://download.opensuse.org';

/** The release and update paths under the mirror, by mkosi 14's reading of Release=. */
export function opensuseLayout(release: string): { release: string; updates: string; tumbleweed: boolean } {
  const bare = release.replaceAll('"', '');
  if (/^\d+$/.test(bare) || bare === 'tumbleweed') return { release: 'tumbleweed/repo/oss/', updates: 'update/tumbleweed/', tumbleweed: true };
  if (bare === 'leap') return { release: 'distribution/leap/15.1/repo/oss/', updates: 'update/leap/15.1/oss/', tumbleweed: false };
  if (bare === 'current') return { release: 'distribution/openSUSE-stable/repo/oss/', updates: 'update/openSUSE-current/', tumbleweed: false };
  if (bare === 'stable') return { release: 'distribution/openSUSE-stable/repo/oss/', updates: 'update/openSUSE-stable/', tumbleweed: false };
  return { release: `distribution/leap/${bare}/repo/oss/`, updates: `update/leap/${bare}/oss/`, tumbleweed: false };
}

function rpmRepositories(config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'local-mirror', baseurl: config.LocalMirror }];
  if (!config.Mirror) return [];
  const layout = opensuseLayout(config.Release);
  return [
    { id: 'repo-oss', baseurl: under(config.Mirror, layout.release) },
    { id: 'repo-update', baseurl: under(config.Mirror, layout.updates) },
  ];
}

/** mkosi 14's package set: the minimal base pattern (openSUSE 42's older name for it) and zypper. */
function basePackages(config: Config): string[] {
  if (config.BasePackages !== true) return [];
  const pattern = config.Release.replaceAll('"', '').startsWith('42.') ? 'patterns-openSUSE-minimal_base' : 'patterns-base-minimal_base';
  return [
    'systemd', 'glibc-locale-base', 'zypper', pattern,
    // systemd-boot is kiln's addition: mkosi 14 ran bootctl from the host.
    ...(config.Bootable ? ['kernel-default', 'dracut', ...(isDiskFormat(config.Format) ? ['systemd-boot'] : [])] : []),
    ...(config.Format === 'subvolume' || config.Format === 'gpt_btrfs' ? ['btrfsprogs'] : []),
    ...(config.Netdev ? ['systemd-network'] : []),
    ...(config.Ssh ? ['openssh-server'] : []),
  ];
}

export const opensuse: Distribution & RpmPolicy = {
  name: 'opensuse',
  defaultMirror: () => DOWNLOAD,
  mirrorHint: 'set Mirror= to an openSUSE mirror, or LocalMirror= to a local repository',
  packageManager: 'zypper',
  basePackages,
  // dracut's default name on openSUSE.
  initrdPath: (version) => `boot/initrd-${version}`,
  sshUnit: 'sshd.service',
  rpmRepositories,
  probe: (config) => probeRepositories(config, rpmRepositories(config)),
  releasever: (config) => config.Release.replaceAll('"', ''),
  // Tumbleweed keeps the database in /usr/lib/sysimage/rpm; Leap 15 in /var/lib/rpm.
  rpmDatabase: (config) => (opensuseLayout(config.Release).tumbleweed ? 'usr/lib/sysimage/rpm' : 'var/lib/rpm'),
  // None: zypper imports each repository's key (--gpg-auto-import-keys).
  gpgKeyCandidates: () => [],
  // PAM's vendor directory: /usr/lib/pam.d on Tumbleweed since 2022, /usr/etc/pam.d before (mkosi 14 looks in both);
  // common-auth's pam_unix.so has no nullok.
  pam: { vendorDirectories: ['usr/lib/pam.d', 'usr/etc/pam.d'], nullokFile: 'common-auth' },
};
