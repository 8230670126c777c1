/**
 * Arch Linux: a rolling release (Release= is ignored), [core] and [extra] from Mirror=, or the single
 * repository LocalMirror= names, installed with pacman (package-managers/pacman.ts).
 */
import type { Config } from '../config/types.js';
import type { PacmanPolicy, PacmanRepository } from '../package-managers/pacman-conf.js';
import type { Distribution } from './types.js';

/** Arch's mirror layout; Arch Linux ARM mirrors put the architecture first. */
function serverOf(mirror: string, architecture: string): string {
  const base = mirror.replace(/\/+$/, '');
  return architecture === 'aarch64' ? `${base}/$arch/$repo` : `${base}/$repo/os/$arch`;
}

function pacmanRepositories(config: Config): PacmanRepository[] {
  // A local mirror is one flat repository (as in mkosi 14); its database is named core.db.
  if (config.LocalMirror) return [{ name: 'core', server: config.LocalMirror }];
  if (!config.Mirror) return [];
  const server = serverOf(config.Mirror, config.Architecture);
  return [{ name: 'core', server }, { name: 'extra', server }];
}

/** Arch's kernels; Packages= naming one of them replaces the default `linux` (mkosi 14). */
const KERNELS = ['linux', 'linux-lts', 'linux-hardened', 'linux-zen'];

/** mkosi 14's install_arch(): `base`, and for bootable images the file-system tools, dracut and a kernel. */
function basePackages(config: Config): string[] {
  if (config.BasePackages !== true) return [];
  const packages = ['base'];
  if (config.Bootable) {
    if (config.Format === 'gpt_btrfs') packages.push('btrfs-progs');
    if (config.Format === 'gpt_xfs') packages.push('xfsprogs');
    packages.push('dracut');
    if (!config.Packages.some((name) => KERNELS.includes(name))) packages.push('linux');
  }
  if (config.Ssh) packages.push('openssh');
  return packages;
}

export const arch: Distribution & PacmanPolicy = {
  name: 'arch',
  // mkosi 14's defaults: Arch Linux ARM for aarch64, Arch's worldwide mirror for the rest.
  defaultMirror: (_host, architecture) => (architecture === 'aarch64' ? 'http://mirror.archlinuxarm.org' : 'https://geo.mirror.pkgbuild.com'),
  mirrorHint: 'set Mirror= to an Arch Linux mirror, or LocalMirror= to a local repository',
  packageManager: 'pacman',
  // BasePackages=conditional only means something for RPM rich dependencies (mkosi 14).
  basePackages,
  // Arch's own mkinitcpio names it so; kiln's dracut output takes the same place.
  initrdPath: (version) => `boot/initramfs-${version}.img`,
  sshUnit: 'sshd.service',
  pacmanRepositories,
  // The [core] database: a wrong URL fails before the build, not inside pacman.
  probe: (config) => {
    if (config.LocalMirror) return { url: `${config.LocalMirror.replace(/\/+$/, '')}/core.db`, setting: 'LocalMirror' };
    if (!config.Mirror) return undefined;
    const core = serverOf(config.Mirror, config.Architecture).replace('$repo', 'core').replace('$arch', config.Architecture);
    return { url: `${core}/core.db`, setting: 'Mirror' };
  },
  // The image keeps Mirror=, never the LocalMirror= the build may have used.
  mirrorList: (config) => (config.Mirror ? `Server = ${serverOf(config.Mirror, config.Architecture)}\n` : null),
};
