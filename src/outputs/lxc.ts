/**
 * Format=lxc (a kiln extension): the image as LXC's own builder, distrobuilder, makes it — a root
 * tarball (`image.rootfs.tar.xz`, the name of Output=) and a metadata tarball beside it
 * (`image.meta.tar.xz`), both xz as LXC's lxc-local template unpacks them (`tar -J`):
 *
 *   lxc-create -n NAME -t local -- --metadata image.meta.tar.xz --fstree image.rootfs.tar.xz
 *
 * The metadata holds what the lxc-ci image definitions put there: `config` and `config-user` (LXC's
 * common.conf, plus userns.conf for unprivileged containers, and the architecture's personality),
 * the same for LXC before compat level 5 with the distribution's own common.conf where LXC ships
 * one (config.1 … config.4), `templates` (files in which lxc-create replaces LXC_NAME),
 * `create-message`, `expiry` and `excludes-user` (device nodes an unprivileged container cannot
 * create). The root gets LXC_NAME in /etc/hostname and /etc/hosts and DHCP on eth0 (lxc-guest.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeTarFile } from '../archive/archive-file.js';
import { outputCompression } from '../config/derived.js';
import type { Config, DistributionName } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { outputNames } from '../artifacts/names.js';
import { hostsTemplate, configureContainerNetwork, describeImage, buildDates, warnAboutHostname, writeMetadataFiles, type ImageDates, type ImageDescription } from './lxc-guest.js';
import { writeFileInRoot } from '../tree/safe-path.js';
import type { OutputFormat } from './types.js';

/** What lxc-create replaces with the container's name in the files `templates` lists. */
export const LXC_NAME = 'LXC_NAME';

/** The newest LXC compat level; the metadata files without a suffix are for it. */
const COMPAT_LEVEL = 5;

/** The personality LXC gives a container of each architecture (uname -m names), as LXD's osarch maps them. */
const PERSONALITIES: Readonly<Record<string, string>> = {
  x86_64: 'linux64',
  i686: 'linux32',
  i386: 'linux32',
  x86: 'linux32',
  aarch64: 'linux64',
  armv7l: 'linux32',
  armv6l: 'linux32',
  ppc64le: 'linux64',
  ppc64: 'linux64',
  ppc: 'linux32',
  s390x: 'linux64',
  mips64: 'linux64',
  mips: 'linux32',
  riscv64: 'linux64',
};

/** The `<name>.common.conf` and `<name>.userns.conf` LXC ships for mkosi's distributions. */
const LXC_DISTRIBUTION_CONFIGS: Partial<Record<DistributionName, string>> = {
  debian: 'debian',
  ubuntu: 'ubuntu',
  arch: 'archlinux',
  fedora: 'fedora',
  opensuse: 'opensuse',
  gentoo: 'gentoo',
  centos: 'centos',
  centos_epel: 'centos',
  rocky: 'centos',
  rocky_epel: 'centos',
  alma: 'centos',
  alma_epel: 'centos',
};

function configText(includes: readonly string[], personality: string | undefined): string {
  const lines = includes.map((name) => `lxc.include = LXC_TEMPLATE_CONFIG/${name}`);
  if (personality) lines.push(`lxc.arch = ${personality}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The files of image.meta.tar.xz, by name. `devices` are the device nodes under /dev in the root
 * (`dev/null`…), which an unprivileged container cannot create and so must not unpack.
 */
export function lxcMetadataFiles(config: Config, dates: ImageDates, image: ImageDescription, devices: readonly string[]): Record<string, string> {
  const personality = PERSONALITIES[config.Architecture];
  const own = LXC_DISTRIBUTION_CONFIGS[config.Distribution];
  const files: Record<string, string> = {
    config: configText(['common.conf'], personality),
    'config-user': configText(['common.conf', 'userns.conf'], personality),
  };
  // lxc-ci writes the distribution's own files for the older compat levels, common.conf for the current one.
  const legacy = own ? [`${own}.common.conf`] : ['common.conf'];
  const legacyUser = own ? [`${own}.common.conf`, `${own}.userns.conf`] : ['common.conf', 'userns.conf'];
  for (let level = 1; level < COMPAT_LEVEL; level++) {
    files[`config.${level}`] = configText(legacy, personality);
    files[`config-user.${level}`] = configText(legacyUser, personality);
  }
  files.templates = '/etc/hostname\n/etc/hosts\n';
  files['create-message'] = `You just created a ${image.description} container, built by kiln.\n\nNo default root or user password are set by LXC.\n`;
  files.expiry = `${dates.expires}\n`;
  files['excludes-user'] = devices.map((device) => `./${device}\n`).join('');
  return files;
}

/** Device nodes below /dev in the root, as paths relative to it, sorted (no link is followed). */
async function deviceNodes(root: string): Promise<string[]> {
  const dev = path.join(root, 'dev');
  const stat = await fs.lstat(dev).catch(() => undefined);
  if (!stat?.isDirectory()) return [];
  const found: string[] = [];
  for (const entry of await fs.readdir(dev, { recursive: true, withFileTypes: true })) {
    if (entry.isCharacterDevice() || entry.isBlockDevice()) found.push(path.relative(root, path.join(entry.parentPath, entry.name)));
  }
  return found.sort();
}

export const lxcOutput: OutputFormat = {
  name: 'lxc',

  requiredTools(): readonly string[] {
    return ['getfattr', 'xz', 'systemctl'];
  },

  async check(config: Config): Promise<void> {
    const compression = outputCompression(config);
    if (compression !== 'xz') {
      const setting = config.CompressOutput !== null ? 'CompressOutput' : 'Compress';
      throw new UserError(`Format=lxc is always compressed with xz (LXC's lxc-local template unpacks it with tar -J), so ${setting}=${compression === false ? 'no' : compression} cannot apply`, {
        hint: `remove ${setting}= or set it to xz`,
      });
    }
    if (config.UsrOnly) throw new UserError('Format=lxc needs the whole root: UsrOnly= cannot apply', { hint: 'remove UsrOnly=' });
  },

  async write(context: BuildContext): Promise<void> {
    const { config } = context;
    warnAboutHostname(config);
    const dates = buildDates(context);
    const image = describeImage(config, dates);

    await writeFileInRoot(context.root, 'etc/hostname', `${LXC_NAME}\n`);
    await writeFileInRoot(context.root, 'etc/hosts', await hostsTemplate(context, LXC_NAME));
    await configureContainerNetwork(context);

    const metadata = await fs.mkdtemp(path.join(context.workspace, 'lxc-meta-'));
    await fs.chmod(metadata, 0o755);
    await writeMetadataFiles(metadata, lxcMetadataFiles(config, dates, image, await deviceNodes(context.root)), dates);
    await fs.utimes(metadata, dates.created, dates.created);

    const tarOptions = {
      compression: 'xz' as const,
      checksum: config.Checksum,
      stripSELinuxContext: config.TarStripSELinuxContext,
      searchPaths: config.ExtraSearchPaths,
      // The root's /etc/hostname, /etc/hosts and network files were just written.
      clampMtime: context.reproducibility.epoch ?? undefined,
    };
    const names = outputNames(config);
    const rootfsName = names.image;
    const rootfs = path.join(context.staging, rootfsName);
    const rootfsSha256 = await writeTarFile(context.root, rootfs, tarOptions);
    context.artifacts.push({ name: rootfsName, path: rootfs, sha256: rootfsSha256, checksummed: true });

    const metaName = names.lxcMetadata!;
    const meta = path.join(context.staging, metaName);
    const metaSha256 = await writeTarFile(metadata, meta, tarOptions);
    context.artifacts.push({ name: metaName, path: meta, sha256: metaSha256, checksummed: true });
  },
};
