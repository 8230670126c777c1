/**
 * Format=directory: the image root is the output. It is moved (renamed, never copied) into the
 * staging directory, so the build's root is gone afterwards; this must be the last use of it.
 */
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { keepAsSpare } from '../cache/spare.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import type { OutputFormat } from './types.js';

export const directoryOutput: OutputFormat = {
  name: 'directory',

  requiredTools(): readonly string[] {
    return [];
  },

  async write(context: BuildContext): Promise<void> {
    const name = path.basename(context.config.Output);
    const target = path.join(context.staging, name);
    try {
      await rename(context.root, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV') {
        throw new UserError(`cannot move the image root ${context.root} to ${target}: they are on different file systems`, {
          hint: 'put WorkspaceDirectory= on the file system of the output directory',
        });
      }
      throw error;
    }
    // mkosi 14 lists no directory in SHA256SUMS, so neither does kiln.
    // The image this one replaces becomes the spare the next incremental build starts from.
    context.artifacts.push({ name, path: target, checksummed: false, isDirectory: true, afterReplace: (previous) => keepAsSpare(context.config, previous) });
  },
};
