/**
 * The external compressors a tar stream is piped through, with the levels kiln uses. Measured on a
 * 244 MB tar of a Debian bookworm root (minbase + systemd) on 2 cores, -T0:
 *
 *   xz -1      6.8 s   96.1 MB      zstd -3     0.4 s  101.5 MB      gzip -1   3.2 s  117.8 MB
 *   xz -2     10.4 s   93.1 MB  ←   zstd -9     1.6 s   94.9 MB  ←   gzip -6   6.5 s  110.3 MB  ←
 *   xz -3     20.3 s   91.5 MB      zstd -12    5.2 s   94.5 MB      gzip -9  22.7 s  109.9 MB
 *   xz -6     85.3 s   86.1 MB      zstd -15   30.1 s   93.9 MB (mkosi 14)
 *   xz -6 dict=1MiB 32.7 s 91.0 MB (mkosi 14)    zstd -19   94.9 s   88.3 MB
 *
 * Past these levels each percent of size costs seconds to minutes; decompression (what import
 * costs) is 2.4-3.7 s for every xz level.
 */
import { availableParallelism } from 'node:os';
import type { OutputCompression } from '../config/types.js';
import { locateTool, type ToolName } from '../host-tools.js';

/** The program that must exist for each algorithm (pigz is used instead of gzip when present). */
export const COMPRESSOR_TOOLS: Readonly<Record<OutputCompression, ToolName>> = {
  xz: 'xz',
  zstd: 'zstd',
  gz: 'gzip',
};

export const XZ_LEVEL = 2;
export const ZSTD_LEVEL = 9;
export const GZIP_LEVEL = 6;

/** argv of a compressor that reads stdin and writes stdout, using every core where it can. */
export function compressorCommand(algorithm: OutputCompression, searchPaths: readonly string[] = []): string[] {
  switch (algorithm) {
    case 'xz':
      // crc32 rather than the default crc64: what mkosi writes, and cheaper to check on import.
      return ['xz', `-${XZ_LEVEL}`, '-T0', '--check=crc32', '-c'];
    case 'zstd':
      return ['zstd', `-${ZSTD_LEVEL}`, '-T0', '-q', '-c'];
    case 'gz':
      // -n: no name or time stamp in the gzip header, so equal trees give equal files.
      return locateTool('pigz', searchPaths) !== undefined
        ? ['pigz', `-${GZIP_LEVEL}`, '-p', String(availableParallelism()), '-n', '-c']
        : ['gzip', `-${GZIP_LEVEL}`, '-n', '-c'];
  }
}
