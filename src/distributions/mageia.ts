/**
 * Mageia, as mkosi 14's install_mageia builds it: the core release and updates media from Mirror=,
 * Mageia's mirror list when none is set, or the one LocalMirror= repository; installed with dnf.
 */
import type { Config } from '../config/types.js';
import { probeRepositories, under, type RpmPolicy, type RpmRepository } from '../package-managers/rpm-repos.js';
import type { Distribution } from './types.js';

const MIRROR_LIST = 'https://www.mageia.org/mirrorlist/';

function rpmRepositories(config: Config): RpmRepository[] {
  if (config.LocalMirror) return [{ id: 'mageia', baseurl: config.LocalMirror }];
  if (config.Mirror) {
    // mkosi 14 names the x86_64 media whatever the architecture.
    const core = under(config.Mirror, `distrib/${config.Release}/x86_64/media/core`);
    return [
      { id: 'mageia', baseurl: `${core}/release/` },
      { id: 'updates', baseurl: `${core}/updates/` },
    ];
  }
  const list = `${MIRROR_LIST}?release=${config.Release}&arch=x86_64&section=core`;
  return [
    { id: 'mageia', mirrorlist: `${list}&repo=release` },
    { id: 'updates', mirrorlist: `${list}&repo=updates` },
  ];
}

function basePackages(config: Config): string[] {
  if (config.BasePackages !== true) return [];
  // openssh-server is kiln's addition for Ssh=yes: mkosi 14 left the ssh server to Packages=.
  return ['basesystem-minimal', 'dnf', ...(config.Bootable ? ['kernel-server-latest', 'dracut'] : []), ...(config.Ssh ? ['openssh-server'] : [])];
}

/**
 * Mageia's dracut ships /etc/dracut.conf.d/50-mageia.conf, which leaves systemd out of the initrd and
 * sets host-only; kiln's own drop-ins (30-kiln-*) come before it. A later one restates kiln's choice,
 * as mkosi 14's 51-mkosi-override-mageia.conf does — following HostonlyInitrd=, where mkosi 14's
 * always said no and so undid its own HostonlyInitrd=yes.
 */
function dracutDropins(config: Config): Record<string, string> {
  if (!config.Bootable) return {};
  return { '51-kiln-override-mageia.conf': `hostonly=${config.HostonlyInitrd ? 'yes' : 'no'}\nomit_dracutmodules=""\n` };
}

export const mageia: Distribution & RpmPolicy = {
  name: 'mageia',
  defaultMirror: () => null,
  mirrorLists: true,
  mirrorHint: 'set Mirror= to a Mageia mirror, or LocalMirror= to a local repository',
  packageManager: 'dnf',
  basePackages,
  // dracut's own default name here.
  initrdPath: (version) => `boot/initramfs-${version}.img`,
  sshUnit: 'sshd.service',
  rpmRepositories,
  probe: (config) => probeRepositories(config, rpmRepositories(config)),
  releasever: (config) => config.Release,
  // rpm's default, which Mageia keeps: its image scripts (docker-brew-mageia, for 9 and cauldron)
  // clean the database there, and its rpm account's home is there. mkosi 14 put it there too,
  // having no /usr/lib/sysimage/rpm in the image.
  rpmDatabase: () => 'var/lib/rpm',
  gpgKeyCandidates: () => ['/etc/pki/rpm-gpg/RPM-GPG-KEY-Mageia'],
  dracutDropins,
};
