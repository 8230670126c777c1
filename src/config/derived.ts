/** Facts derived from settings, shared by the resolver and the build (mkosi's OutputFormat methods). */
import path from 'node:path';
import type { Compression, Config, FormatName, OutputCompression } from './types.js';

export function isDiskFormat(format: FormatName): boolean {
  return format === 'gpt_ext4' || format === 'gpt_xfs' || format === 'gpt_btrfs' || format === 'gpt_squashfs';
}

export function isSquashfsFormat(format: FormatName): boolean {
  return format === 'gpt_squashfs' || format === 'plain_squashfs';
}

export function isBtrfsFormat(format: FormatName): boolean {
  return format === 'gpt_btrfs' || format === 'subvolume';
}

/** Formats that are tar archives, compressed (xz) by default as mkosi 14 does for tar. */
export function isArchiveFormat(format: FormatName): boolean {
  return format === 'tar' || format === 'lxc' || format === 'incus';
}

/** Formats whose file system can compress by itself, so Compress= means file-system compression. */
export function hasFsCompression(format: FormatName): boolean {
  return isSquashfsFormat(format) || isBtrfsFormat(format);
}

/**
 * mkosi's should_compress_output(): CompressOutput=, else Compress= for formats without file-system
 * compression; tar (and kiln's lxc and incus) are compressed by default; "yes" means xz.
 */
export function effectiveOutputCompression(
  format: FormatName,
  compress: Compression | null,
  compressOutput: Compression | null,
): OutputCompression | false {
  let value = compressOutput;
  if (value === null && !hasFsCompression(format)) value = compress;
  if (value === null && isArchiveFormat(format)) value = true;
  if (value === true) return 'xz';
  if (value === null || value === false) return false;
  return value as OutputCompression;
}

/** mkosi's should_compress_fs(): CompressFs=, else Compress= for formats that compress in the file system. */
export function effectiveFsCompression(format: FormatName, compress: Compression | null, compressFs: Compression | null): Compression {
  let value = compressFs;
  if (value === null && hasFsCompression(format)) value = compress;
  return value ?? false;
}

export function outputCompression(config: Pick<Config, 'Format' | 'Compress' | 'CompressOutput'>): OutputCompression | false {
  return effectiveOutputCompression(config.Format, config.Compress, config.CompressOutput);
}

/** The suffixes mkosi 14 strips from Output= before naming the files beside it (strip_suffixes). */
const OUTPUT_SUFFIXES = ['.xz', '.zstd', '.gz', '.raw', '.tar', '.cpio', '.qcow2'];

/**
 * mkosi's build_auxiliary_output_path(): Output= without its format and compression suffixes, plus
 * `suffix`, plus the output compression when the file is compressed like the output.
 */
export function auxiliaryOutputPath(
  config: Pick<Config, 'Output' | 'Format' | 'Compress' | 'CompressOutput'>,
  suffix: string,
  canCompress = false,
): string {
  let base = config.Output;
  for (let ext = path.extname(base); OUTPUT_SUFFIXES.includes(ext); ext = path.extname(base)) base = base.slice(0, -ext.length);
  const compression = canCompress ? outputCompression(config) : false;
  return `${base}${suffix}${compression ? `.${compression}` : ''}`;
}

/** The ".root" or ".usr" that names split artifacts and verity files (mkosi's root_or_usr()). */
export function rootOrUsr(config: Pick<Config, 'UsrOnly'>): string {
  return config.UsrOnly ? '.usr' : '.root';
}

/**
 * The GPT label of the root (or /usr) partition, as mkosi 14 names it: <ImageId>[_<ImageVersion>]
 * when there is an image id, else a description.
 */
export function rootPartitionLabel(config: Pick<Config, 'ImageId' | 'ImageVersion' | 'UsrOnly'>, suffix = 'Partition'): string {
  if (config.ImageId !== null) return config.ImageVersion !== null ? `${config.ImageId}_${config.ImageVersion}` : config.ImageId;
  return `${config.UsrOnly ? 'System Resources' : 'Root'} ${suffix}`;
}

/** Escapes a name for the /dev/disk/by-partlabel links as mkosi's xescape() does (per code point, like udev for ASCII). */
export function udevEscape(name: string): string {
  let escaped = '';
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    escaped += code <= 32 || code >= 127 || ch === '/' ? `\\x${code.toString(16).padStart(2, '0')}` : ch;
  }
  return escaped;
}
