/**
 * The external compressors a tar stream is piped through, with the levels kiln uses. Levels were
 * chosen by measuring a 244 MB Debian bookworm root (minbase + systemd) on 2 cores; see the
 * numbers next to each one.
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
