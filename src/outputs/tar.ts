/**
 * Format=tar: the image root as a tar archive that `machinectl import-tar` (systemd-import) accepts,
 * written by kiln itself and compressed by CompressOutput= (xz unless told otherwise).
 */
import path from 'node:path';
import { writeTarFile } from '../archive/archive-file.js';
import { COMPRESSOR_TOOLS } from '../archive/compressor.js';
import type { Config } from '../config/types.js';
import { outputCompression } from '../config/derived.js';
import type { BuildContext } from '../context.js';
import { warn } from '../log.js';
import type { OutputFormat } from './types.js';

export const tarOutput: OutputFormat = {
  name: 'tar',

  requiredTools(config: Config): readonly string[] {
    const compression = outputCompression(config);
    return compression ? ['getfattr', COMPRESSOR_TOOLS[compression]] : ['getfattr'];
  },

  async write(context: BuildContext): Promise<void> {
    const { config } = context;
    const compression = outputCompression(config);
    if (compression === 'zstd') {
      warn('machinectl import-tar before systemd 258 cannot read zstd archives; CompressOutput=xz works with every version');
    }
    const name = path.basename(config.Output);
    const file = path.join(context.staging, name);
    // As mkosi 14 does, UsrOnly= archives /usr alone.
    const tree = config.UsrOnly ? path.join(context.root, 'usr') : context.root;
    const sha256 = await writeTarFile(tree, file, {
      compression,
      checksum: config.Checksum,
      stripSELinuxContext: config.TarStripSELinuxContext,
      searchPaths: config.ExtraSearchPaths,
      clampMtime: context.reproducibility.epoch ?? undefined,
    });
    context.artifacts.push({ name, path: file, sha256, checksummed: true });
  },
};
