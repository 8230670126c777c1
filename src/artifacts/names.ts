/**
 * THE list of what a build writes into the output directory — the one place output names live.
 * The "already exists" check before a build, --force's removal of stale outputs, the commit step
 * (which refuses to commit a file this list does not know), `kiln clean` and `kiln serve` all read
 * producedOutputs(): a format or sidecar that writes a new file (an LXC pair, split artifacts,
 * .roothash, .verity, .bmap…) adds its name here, and is then cleaned, replaced and served with
 * no other change. Names follow mkosi 14 and what systemd's importer looks for: SHA256SUMS and
 * SHA256SUMS.gpg in the output directory, `<stem>.nspawn` where the stem is the output name
 * without .raw/.tar/.xz… (image.tar.xz pairs with image.nspawn), and `<output>.manifest`;
 * Format=lxc adds its metadata tarball.
 */
import path from 'node:path';
import { auxiliaryOutputPath, isDiskFormat, rootOrUsr } from '../config/derived.js';
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
  /** ManifestFormat=changelog: `<output>.changelog`, as mkosi 14 names it. */
  readonly changelog: string;
  /**
   * Format=lxc: the metadata tarball that goes beside the root tarball, `<stem>.meta.tar.xz` where
   * the stem drops `.rootfs` too (image.rootfs.tar.xz pairs with image.meta.tar.xz, as distrobuilder
   * names its rootfs.tar.xz and meta.tar.xz).
   */
  readonly lxcMetadata?: string;
  /** Verity=: `<stem>.root.roothash` (`.usr.usrhash` with UsrOnly=), the root hash in hex, as mkosi 14 names it. */
  readonly rootHash?: string;
  /** Verity=signed: `<stem>.root.roothash.p7s`, the DER PKCS#7 signature of the root hash. */
  readonly rootHashSignature?: string;
  /** BMap=: `<stem>.bmap`, bmaptool's block map of the (uncompressed) disk image. */
  readonly bmap?: string;
  /** SplitArtifacts=: the root (or /usr) partition, its verity data and signature, each beside the image. */
  readonly splitRoot?: string;
  readonly splitVerity?: string;
  /**
   * Left out when it has the name of the .roothash.p7s file (an uncompressed image): mkosi 14 wrote
   * both there, the later overwriting the earlier; kiln keeps the DER signature systemd reads.
   */
  readonly splitVeritySig?: string;
  /** SplitArtifacts= with a unified kernel image: `<stem>.efi`, the image's UKI as it is in the ESP (or XBOOTLDR). */
  readonly splitKernel?: string;
}

/** mkosi 14's roothash_suffix(): ".root.roothash", ".usr.usrhash". */
export function rootHashSuffix(config: Pick<Config, 'UsrOnly'>): string {
  const part = rootOrUsr(config);
  return `${part}${part}hash`;
}

export function lxcMetadataName(image: string): string {
  const stem = stripSuffixes(image);
  const base = stem.endsWith('.rootfs') && stem.length > '.rootfs'.length ? stem.slice(0, -'.rootfs'.length) : stem;
  return `${base}.meta.tar.xz`;
}

/** `<stem>.nspawn`, the container settings systemd-pull and machinectl look for beside an image. */
export function nspawnName(image: string): string {
  return `${stripSuffixes(image)}.nspawn`;
}

export function manifestName(image: string): string {
  return `${image}.manifest`;
}

export function outputNames(config: Config): OutputNames {
  const image = path.basename(config.Output);
  return {
    directory: path.dirname(config.Output),
    image,
    checksum: 'SHA256SUMS',
    signature: 'SHA256SUMS.gpg',
    nspawn: nspawnName(image),
    manifest: manifestName(image),
    changelog: `${image}.changelog`,
    ...(config.Format === 'lxc' ? { lxcMetadata: lxcMetadataName(image) } : {}),
    ...diskNames(config),
  };
}

function diskNames(config: Config): Partial<OutputNames> {
  if (!isDiskFormat(config.Format)) return {};
  const base = (file: string | null): string | undefined => (file === null ? undefined : path.basename(file));
  const names: { -readonly [K in keyof OutputNames]?: OutputNames[K] } = {};
  if (config.Verity !== false) names.rootHash = base(auxiliaryOutputPath(config, rootHashSuffix(config)));
  if (config.Verity === 'signed') names.rootHashSignature = base(auxiliaryOutputPath(config, `${rootHashSuffix(config)}.p7s`));
  if (config.BMap) names.bmap = base(auxiliaryOutputPath(config, '.bmap'));
  if (config.SplitArtifacts) {
    names.splitRoot = base(config.OutputSplitRoot);
    names.splitVerity = base(config.OutputSplitVerity);
    const sig = base(config.OutputSplitVeritySig);
    if (sig !== names.rootHashSignature) names.splitVeritySig = sig;
    // mkosi 14 names it for every bootable image, and then failed to find a UKI in one without: kiln writes it where there is one.
    if (config.Bootable && config.WithUnifiedKernelImages && config.ESPSize !== null && config.ESPSize > 0) names.splitKernel = base(config.OutputSplitKernel);
  }
  return names;
}

export interface ProducedOutput {
  /** File (or directory) name in the output directory. */
  readonly name: string;
  /**
   * A secret the build hands to its user alone (mkosi 14 writes the private key `id_rsa` there
   * for Ssh=): committed 0600 instead of 0644, removed by clean and --force like any output, and
   * never served.
   */
  readonly secret?: boolean;
}

/** Everything this configuration writes into the output directory. */
export function producedOutputs(config: Config): ProducedOutput[] {
  const names = outputNames(config);
  const outputs: ProducedOutput[] = [{ name: names.image }];
  if (names.lxcMetadata) outputs.push({ name: names.lxcMetadata });
  for (const name of [names.rootHash, names.rootHashSignature, names.bmap, names.splitRoot, names.splitVerity, names.splitVeritySig, names.splitKernel]) {
    if (name !== undefined) outputs.push({ name });
  }
  if (config.Checksum) outputs.push({ name: names.checksum });
  if (config.Sign) outputs.push({ name: names.signature });
  if (config.NSpawnSettings !== null) outputs.push({ name: names.nspawn });
  if (config.ManifestFormat.includes('json')) outputs.push({ name: names.manifest });
  if (config.ManifestFormat.includes('changelog')) outputs.push({ name: names.changelog });
  return outputs;
}

/** The produced outputs as paths, for the "already exists" check, --force and `kiln clean`. */
export function producedFiles(config: Config): string[] {
  const directory = outputNames(config).directory;
  return producedOutputs(config).map((output) => path.join(directory, output.name));
}
