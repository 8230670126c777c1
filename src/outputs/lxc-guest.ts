/**
 * What LXC and Incus images share, as distrobuilder makes them for systemd guests: the image's
 * description (os, release, serial, creation and expiry dates), its /etc/hosts with a placeholder
 * for the container's name, and DHCP on eth0 through systemd-networkd. Only Format=lxc and
 * Format=incus call this, at the very end of the build, so no other format's root changes.
 */
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { debug, warn } from '../log.js';
import { debianArchitecture } from '../package-managers/apt-sources.js';
import { run } from '../run.js';
import { existsInRoot, readFileInRoot, writeFileInRoot } from '../tree/safe-path.js';

/** distrobuilder's default expiry of an image: 30 days after it was built. */
const EXPIRY_DAYS = 30;

export interface ImageDates {
  /** Unix time (seconds) the image was made. */
  readonly created: number;
  /** Unix time after which image servers treat it as stale (LXC's `expiry`, Incus' `expiry_date`). */
  readonly expires: number;
}

/**
 * The one place LXC and Incus metadata take the time from: creation_date, expiry_date, `expiry`,
 * the serial and the metadata files' mtimes all come from here. A reproducible build
 * (SOURCE_DATE_EPOCH) passes its epoch as `now`.
 */
export function imageDates(now: number = Date.now()): ImageDates {
  const created = Math.floor(now / 1000);
  return { created, expires: created + EXPIRY_DAYS * 24 * 60 * 60 };
}

/** The dates of this build's image: its SOURCE_DATE_EPOCH in a reproducible build, else now. */
export function buildDates(context: BuildContext): ImageDates {
  const { epoch } = context.reproducibility;
  return imageDates(epoch === null ? undefined : epoch * 1000);
}

/** The properties Incus lists for an image and LXC shows when one is created (distrobuilder's defaults). */
export interface ImageDescription {
  readonly os: string;
  readonly release: string;
  /** The distribution's own name for the architecture (amd64 for Debian, x86_64 for Fedora). */
  readonly architecture: string;
  readonly variant: string;
  readonly serial: string;
  readonly name: string;
  readonly description: string;
}

/** distrobuilder's serial: the build time as YYYYMMDD_HHMM in UTC. */
function serialOf(created: number): string {
  const iso = new Date(created * 1000).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 16).replace(':', '')}`;
}

export function describeImage(config: Config, dates: ImageDates): ImageDescription {
  const os = config.Distribution;
  const { Release: release } = config;
  const architecture = ['debian', 'ubuntu'].includes(os) ? debianArchitecture(config.Architecture) : config.Architecture;
  const variant = 'default';
  const serial = config.ImageVersion ?? serialOf(dates.created);
  const name =
    config.ImageId !== null
      ? `${config.ImageId}${config.ImageVersion !== null ? `_${config.ImageVersion}` : ''}`
      : `${os}-${release}-${architecture}-${variant}-${serial}`;
  const title = `${os.charAt(0).toUpperCase()}${os.slice(1)}`;
  return { os, release, architecture, variant, serial, name, description: `${title} ${release} ${architecture} (${variant}) (${serial})` };
}

/** The hosts file a Debian installer writes, for images that have none (debootstrap and mmdebstrap write none). */
function defaultHosts(placeholder: string): string {
  return `127.0.0.1\tlocalhost\n127.0.1.1\t${placeholder}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`;
}

/**
 * /etc/hosts naming the container: Hostname= (the name the image was built with) becomes the
 * placeholder the container manager replaces with the container's name, and where the file has no
 * such line, `127.0.1.1 <placeholder>` goes first (what distrobuilder does).
 */
export function hostsWithPlaceholder(text: string | undefined, hostname: string | null, placeholder: string): string {
  if (text === undefined) return defaultHosts(placeholder);
  const lines = text.split('\n').map((line) => {
    if (hostname === null || line.trimStart().startsWith('#')) return line;
    return line.replace(/[^\s#]+/g, (field, offset: number) => (offset > 0 && field === hostname ? placeholder : field));
  });
  const replaced = lines.join('\n');
  return replaced.includes(placeholder) ? replaced : `127.0.1.1\t${placeholder}\n${replaced}`;
}

/** The image's /etc/hosts with the placeholder for the container's name. */
export async function hostsTemplate(context: BuildContext, placeholder: string): Promise<string> {
  return hostsWithPlaceholder(await readFileInRoot(context.root, 'etc/hosts'), context.config.Hostname, placeholder);
}

/** lxc-ci's network file for containers: DHCP on the eth0 that LXC and Incus give a container. */
export const ETH0_NETWORK = '[Match]\nName=eth0\n\n[Network]\nDHCP=true\n\n[DHCPv4]\nUseDomains=true\n\n[DHCP]\nClientIdentifier=mac\n';

/** Programs that manage the network themselves; with one of them in the image, networkd stays off. */
const OTHER_NETWORK_MANAGERS = ['usr/sbin/NetworkManager', 'usr/sbin/ifup', 'sbin/ifup', 'usr/sbin/connmand'];

/**
 * DHCP on eth0, as distrobuilder sets up systemd guests: when systemd-networkd is in the image and no
 * other network manager is, /etc/systemd/network/eth0.network (unless the image has its own) and
 * systemd-networkd enabled with the host's `systemctl --root`, which resolves every path inside the
 * root. Debian ships networkd disabled, and without it a container on lxcbr0 gets no address.
 */
export async function configureContainerNetwork(context: BuildContext): Promise<void> {
  const { root, config } = context;
  const networkd = (await existsInRoot(root, 'usr/lib/systemd/systemd-networkd')) || (await existsInRoot(root, 'lib/systemd/systemd-networkd'));
  if (!networkd) {
    debug('no systemd-networkd in the image: eth0 is left to the image');
    return;
  }
  for (const manager of OTHER_NETWORK_MANAGERS) {
    if (await existsInRoot(root, manager)) {
      debug(`/${manager} is in the image: eth0 is left to it, systemd-networkd stays as it is`);
      return;
    }
  }
  if (!(await existsInRoot(root, 'etc/systemd/network/eth0.network'))) {
    await writeFileInRoot(root, 'etc/systemd/network/eth0.network', ETH0_NETWORK);
  }
  const argv = ['systemctl', `--root=${root}`, 'is-enabled', 'systemd-networkd.service'];
  // is-enabled exits 1 for disabled and masked units; its stdout says which.
  const state = (await run(argv, { what: 'Asking whether systemd-networkd is enabled', okCodes: [1], read: true, searchPaths: config.ExtraSearchPaths })).stdout.trim();
  if (state === 'masked') {
    warn('systemd-networkd is masked in the image: the container will not configure eth0 by DHCP');
    return;
  }
  if (state === 'enabled') return;
  await run(['systemctl', `--root=${root}`, 'enable', 'systemd-networkd.service'], {
    what: 'Enabling systemd-networkd for the container\'s eth0',
    searchPaths: config.ExtraSearchPaths,
  });
}

/**
 * Writes small metadata files (config, templates…) into `dir`, each dated `dates.created`, so the
 * metadata archive depends on the one time source and nothing else.
 */
export async function writeMetadataFiles(dir: string, files: Readonly<Record<string, string>>, dates: ImageDates): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(file, content, { mode: 0o644 });
    await utimes(file, dates.created, dates.created);
  }
}

/** Hostname= is the container's name under LXC and Incus; say so when it was set. */
export function warnAboutHostname(config: Config): void {
  if (config.Hostname !== null) {
    warn(`Hostname=${config.Hostname} is replaced by the container's name: ${config.Format === 'lxc' ? 'lxc-create' : 'Incus'} names the container`);
  }
}
