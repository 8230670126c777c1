/**
 * Names of everything a build writes beside the image, as mkosi 14 names them and systemd's importer
 * looks for them: SHA256SUMS and SHA256SUMS.gpg in the output directory, `<stem>.nspawn` where the
 * stem is the output name without .raw/.tar/.xz… (image.tar.xz pairs with image.nspawn), and
 * `<output>.manifest`; Format=lxc adds its metadata tarball.
 */
import path from 'node:path';
import type { Config } from '../config/types.js';

/** mkosi's KNOWN_SUFFIXES plus the ones kiln adds (.gz) and systemd strips (.zst). */
const KNOWN_SUFFIXES = ['.xz', '.zstd', '.zst', '.gz', '.raw', '.tar', '.cpio', '.qcow2'];

export function stripSuffixes(name: string): string {
  let stem = name;
  for (;;) {
    const suffix = KNOWN_SUFFIXES.find((s) => stem.endsWith(s) && stem.length > s.length);
    if (!suffix) return stem;
    stem = stem.slice(0, -suffix.length);
  }
}

export interface OutputNames {
  /** The output directory (where everything lands). */
  readonly directory: string;
  /** File name of the image itself. */
  readonly image: string;
  readonly checksum: string;
  readonly signature: string;
  readonly nspawn: string;
  readonly manifest: string;
  /**
   * Format=lxc: the metadata tarball that goes beside the root tarball, `<stem>.meta.tar.xz` where
   * the stem drops `.rootfs` too (image.rootfs.tar.xz pairs with image.meta.tar.xz, as distrobuilder
   * names its rootfs.tar.xz and meta.tar.xz).
   */
  readonly lxcMetadata?: string;
}

export function lxcMetadataName(image: string): string {
  const stem = stripSuffixes(image);
  const base = stem.endsWith('.rootfs') && stem.length > '.rootfs'.length ? stem.slice(0, -'.rootfs'.length) : stem;
  return `${base}.meta.tar.xz`;
}

export function outputNames(config: Config): OutputNames {
  const image = path.basename(config.Output);
  return {
    directory: path.dirname(config.Output),
    image,
    checksum: 'SHA256SUMS',
    signature: 'SHA256SUMS.gpg',
    nspawn: `${stripSuffixes(image)}.nspawn`,
    manifest: `${image}.manifest`,
    ...(config.Format === 'lxc' ? { lxcMetadata: lxcMetadataName(image) } : {}),
  };
}

/** The files this configuration produces, for the "already exists" check and for --force. */
export function producedFiles(config: Config): string[] {
  const names = outputNames(config);
  const files = [names.image];
  if (names.lxcMetadata) files.push(names.lxcMetadata);
  if (config.Checksum) files.push(names.checksum);
  if (config.Sign) files.push(names.signature);
  if (config.NSpawnSettings !== null) files.push(names.nspawn);
  if (config.ManifestFormat.includes('json')) files.push(names.manifest);
  return files.map((file) => path.join(names.directory, file));
}
