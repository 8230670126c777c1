/**
 * Format=incus (a kiln extension): a unified Incus/LXD image — one tarball (`image.incus.tar.xz`,
 * the name of Output=; CompressOutput= as for tar, xz by default) holding `metadata.yaml`,
 * `templates/` and `rootfs/`, as Incus' image-format documentation specifies and distrobuilder
 * writes it. metadata.yaml comes first, so Incus finds it without reading the root:
 *
 *   incus image import image.incus.tar.xz --alias NAME && incus launch NAME CONTAINER
 *
 * The templates give the container its name in /etc/hostname and /etc/hosts when it is created or
 * copied; the root gets DHCP on eth0 (lxc-guest.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeTarFile } from '../archive/archive-file.js';
import { COMPRESSOR_TOOLS } from '../archive/compressor.js';
import { outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { configureContainerNetwork, describeImage, hostsTemplate, buildDates, warnAboutHostname, writeMetadataFiles, type ImageDates, type ImageDescription } from './lxc-guest.js';
import type { OutputFormat } from './types.js';

/** What Incus (and LXD) replace with the container's name in a template. */
export const INCUS_NAME = '{{ container.name }}';

/** The files Incus writes from templates/, and when (distrobuilder's default: create and copy). */
const TEMPLATES: readonly { readonly path: string; readonly template: string }[] = [
  { path: '/etc/hostname', template: 'hostname.tpl' },
  { path: '/etc/hosts', template: 'hosts.tpl' },
];

/** A YAML scalar: JSON's quoted strings are valid YAML, and no word ("yes", "12") changes type. */
const quote = (text: string): string => JSON.stringify(text);

/** metadata.yaml, by Incus' api.ImageMetadata: architecture and creation_date are the required fields. */
export function incusMetadataYaml(config: Config, dates: ImageDates, image: ImageDescription): string {
  const properties: Record<string, string> = {
    architecture: image.architecture,
    description: image.description,
    name: image.name,
    os: image.os,
    release: image.release,
    serial: image.serial,
    variant: image.variant,
  };
  const lines = [
    `architecture: ${quote(config.Architecture)}`,
    `creation_date: ${dates.created}`,
    `expiry_date: ${dates.expires}`,
    'properties:',
    ...Object.entries(properties).map(([key, value]) => `  ${key}: ${quote(value)}`),
    'templates:',
  ];
  for (const { path: file, template } of TEMPLATES) {
    lines.push(`  ${quote(file)}:`, '    when:', '      - create', '      - copy', `    template: ${quote(template)}`);
  }
  return `${lines.join('\n')}\n`;
}

export const incusOutput: OutputFormat = {
  name: 'incus',

  requiredTools(config: Config): readonly string[] {
    const compression = outputCompression(config);
    return compression ? ['getfattr', 'systemctl', COMPRESSOR_TOOLS[compression]] : ['getfattr', 'systemctl'];
  },

  async check(config: Config): Promise<void> {
    if (config.UsrOnly) throw new UserError('Format=incus needs the whole root: UsrOnly= cannot apply', { hint: 'remove UsrOnly=' });
  },

  async write(context: BuildContext): Promise<void> {
    const { config } = context;
    warnAboutHostname(config);
    const dates = buildDates(context);
    const image = describeImage(config, dates);
    await configureContainerNetwork(context);

    const metadata = await fs.mkdtemp(path.join(context.workspace, 'incus-meta-'));
    await fs.chmod(metadata, 0o755);
    await writeMetadataFiles(metadata, { 'metadata.yaml': incusMetadataYaml(config, dates, image) }, dates);
    const templates = path.join(metadata, 'templates');
    await fs.mkdir(templates, { mode: 0o755 });
    await writeMetadataFiles(templates, { 'hostname.tpl': `${INCUS_NAME}\n`, 'hosts.tpl': await hostsTemplate(context, INCUS_NAME) }, dates);
    for (const dir of [templates, metadata]) await fs.utimes(dir, dates.created, dates.created);

    const name = path.basename(config.Output);
    const file = path.join(context.staging, name);
    const sha256 = await writeTarFile([{ root: metadata }, { root: context.root, prefix: 'rootfs' }], file, {
      compression: outputCompression(config),
      checksum: config.Checksum,
      stripSELinuxContext: config.TarStripSELinuxContext,
      searchPaths: config.ExtraSearchPaths,
      clampMtime: context.reproducibility.epoch ?? undefined,
    });
    context.artifacts.push({ name, path: file, sha256, checksummed: true });
  },
};
