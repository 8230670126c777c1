/** Facts derived from settings, shared by the resolver and the build (mkosi's OutputFormat methods). */
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

/** Formats whose file system can compress by itself, so Compress= means file-system compression. */
export function hasFsCompression(format: FormatName): boolean {
  return isSquashfsFormat(format) || isBtrfsFormat(format);
}

/**
 * mkosi's should_compress_output(): CompressOutput=, else Compress= for formats without file-system
 * compression; tar is compressed by default; "yes" means xz.
 */
export function effectiveOutputCompression(
  format: FormatName,
  compress: Compression | null,
  compressOutput: Compression | null,
): OutputCompression | false {
  let value = compressOutput;
  if (value === null && !hasFsCompression(format)) value = compress;
  if (value === null && format === 'tar') value = true;
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
