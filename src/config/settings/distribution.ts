/** [Distribution] settings. */
import { DISTRIBUTIONS, isSupportedDistribution } from '../../distributions/index.js';
import { UserError } from '../../errors.js';
import { bool, enumeration, list, pathSetting, string, type ResolveContext } from '../setting.js';
import { BOOTSTRAPPERS, MKOSI_DISTRIBUTIONS, type BootstrapperName, type DistributionName } from '../types.js';
import { detected } from './auto-detect.js';
import { hasCommand } from '../../util/which.js';

const section = 'Distribution';

/** Why Gentoo stays refused (also the compat matrix's reason). */
const GENTOO =
  "Distribution=gentoo is not supported by kiln: it builds from Gentoo's stage3 tarball and portage snapshot, which only Gentoo's own mirrors serve, so no local proof of such a build exists";

/** mkosi 14's release when the distribution is not the host's (load_args). */
const MKOSI_DEFAULT_RELEASES: Readonly<Record<DistributionName, string>> = {
  fedora: '36',
  centos: '9-stream',
  centos_epel: '9-stream',
  rocky: '8',
  rocky_epel: '8',
  alma: '8',
  alma_epel: '8',
  mageia: '7',
  debian: 'testing',
  ubuntu: 'jammy',
  opensuse: 'tumbleweed',
  openmandriva: 'cooker',
  gentoo: '17.1',
  arch: 'rolling',
};

function defaultDistribution(context: ResolveContext): DistributionName {
  if (context.host.distribution === null) {
    throw new UserError("couldn't detect the host's distribution", {
      hint: 'set Distribution= in mkosi.default or pass -d DISTRIBUTION',
    });
  }
  return context.host.distribution;
}

function defaultRelease(context: ResolveContext): string {
  const distribution = context.get('Distribution');
  if (distribution === context.host.distribution && context.host.release) return context.host.release;
  return MKOSI_DEFAULT_RELEASES[distribution];
}

export const distributionSettings = {
  Distribution: enumeration<DistributionName, DistributionName>(MKOSI_DISTRIBUTIONS, {
    section,
    flags: ['-d', '--distribution'],
    mkosi: 'distribution',
    default: defaultDistribution,
    status: 'partial',
    unsupported: (value) => {
      if (isSupportedDistribution(value)) return undefined;
      if (value === 'gentoo') return GENTOO;
      return `Distribution=${value} is not supported by kiln yet (it builds ${Object.keys(DISTRIBUTIONS).join(', ')})`;
    },
    doc: "Distribution to install (default: the host's); every mkosi 14 distribution but gentoo, refused because its stage3 and portage snapshot come only from Gentoo's mirrors, so no local proof of a build exists",
  }),
  Release: string<string>({
    section,
    flags: ['-r', '--release'],
    mkosi: 'release',
    default: defaultRelease,
    doc: "Release to install: a codename for Debian and Ubuntu (default: the host's release if the distribution matches)",
  }),
  Architecture: string<string>({
    section,
    flags: ['--architecture'],
    mkosi: 'architecture',
    default: (context) => context.host.architecture,
    status: 'partial',
    unsupported: (value, context) =>
      value === context.host.architecture
        ? undefined
        : `Architecture=${value} cannot be built on this ${context.host.architecture} host by kiln yet`,
    metavar: 'ARCH',
    doc: 'Architecture of the image, as uname -m spells it (default: the host\'s)',
  }),
  Mirror: string<string | null>({
    section,
    flags: ['-m', '--mirror'],
    mkosi: 'mirror',
    default: (context) => {
      const distribution = context.get('Distribution');
      return isSupportedDistribution(distribution)
        ? DISTRIBUTIONS[distribution].defaultMirror(context.host, context.get('Architecture'))
        : null;
    },
    metavar: 'URL',
    doc: "Package mirror (default: mkosi 14's for the distribution; for Debian the host's own apt mirror)",
  }),
  LocalMirror: string<string | null>({
    section,
    flags: ['--local-mirror'],
    mkosi: 'local_mirror',
    default: null,
    metavar: 'URL',
    doc: 'A single flat repository used while building instead of Mirror= (Arch and the RPM distributions)',
  }),
  RepositoryKeyCheck: bool({
    section,
    flags: ['--repository-key-check'],
    mkosi: 'repository_key_check',
    default: true,
    doc: 'Check the signatures of repositories',
  }),
  Repositories: list({
    section,
    flags: ['--repositories'],
    mkosi: 'repositories',
    delimiter: ',',
    doc: 'Repositories to use: components for Debian and Ubuntu, repository ids for the RPM distributions, name::url for Arch',
  }),
  UseHostRepositories: bool({
    section,
    flags: ['--use-host-repositories'],
    mkosi: 'use_host_repositories',
    default: false,
    status: 'partial',
    // mkosi 14 gives dnf no repository directory then; apt and pacman have no such thing in mkosi 14.
    unsupported: (value, context) => {
      if (!value) return undefined;
      const distribution = context.get('Distribution');
      const manager = isSupportedDistribution(distribution) ? DISTRIBUTIONS[distribution].packageManager : undefined;
      return manager === undefined || manager === 'dnf'
        ? undefined
        : `UseHostRepositories=yes is for distributions installed with dnf, as in mkosi 14 (${distribution} is installed with ${manager}); for extra repositories use RepositoryDirectory=`;
    },
    doc: "dnf: use the repository files of the image's or the host's /etc/yum.repos.d instead of kiln's (mkosi 14: RPM distributions)",
  }),
  RepositoryDirectory: pathSetting({
    section,
    flags: ['--repository-directory'],
    mkosi: 'repos_dir',
    default: detected('mkosi.reposdir', 'directory'),
    neutral: null,
    doc: 'Directory with more repositories for the build (default: mkosi.reposdir/): dnf *.repo files, pacman files included into pacman.conf, and (kiln) apt *.list and *.sources files',
  }),
  Bootstrapper: enumeration<BootstrapperName, BootstrapperName | null>(BOOTSTRAPPERS, {
    section,
    flags: ['--bootstrapper'],
    mkosi: '',
    default: (context) => {
      const distribution = context.get('Distribution');
      if (distribution !== 'debian' && distribution !== 'ubuntu') return null;
      return hasCommand('mmdebstrap', context.env) ? 'mmdebstrap' : 'debootstrap';
    },
    doc: 'kiln: tool that bootstraps Debian and Ubuntu (default: mmdebstrap when installed, else debootstrap)',
  }),
};
