/**
 * Format=cpio (mkosi 14): the image root as a "newc" cpio archive — what the kernel unpacks as an
 * initramfs — written by GNU cpio with --reproducible (no device and inode numbers from the build
 * host), every entry listed in kiln's walk order (sorted, each directory before its contents), and
 * compressed as a whole only when CompressOutput= (or Compress=) asks for it, as in mkosi 14.
 */
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COMPRESSOR_TOOLS, compressorCommand } from '../archive/compressor.js';
import { outputCompression } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { finish, spawn } from '../run.js';
import { walkTree } from '../tree/walk.js';
import { streamToFile } from '../util/hash-stream.js';
import type { OutputFormat } from './types.js';

const NUL = Buffer.alloc(1);

/** The NUL-terminated names below `tree` ("etc", "etc/os-release"…), the root itself left out as mkosi 14 lists them. */
async function* listNames(tree: string): AsyncGenerator<Buffer> {
  for await (const entry of walkTree(tree)) {
    if (entry.depth > 0) yield Buffer.concat([entry.relative, NUL]);
  }
}

async function writeCpio(tree: string, file: string, config: Config): Promise<string | undefined> {
  const cpioArgv = ['cpio', '-o', '--reproducible', '--null', '-H', 'newc', '--quiet', '-D', tree];
  const cpio = spawn(cpioArgv, { stdin: 'pipe', stdout: 'pipe', what: 'Writing the cpio archive', searchPaths: config.ExtraSearchPaths });
  const compression = outputCompression(config);
  const compressorArgv = compression ? compressorCommand(compression, config.ExtraSearchPaths) : undefined;
  const compressor = compressorArgv
    ? spawn(compressorArgv, { stdin: 'pipe', stdout: 'pipe', what: `Compressing the cpio archive with ${compressorArgv[0]}`, searchPaths: config.ExtraSearchPaths })
    : undefined;
  const steps: Promise<unknown>[] = [pipeline(Readable.from(listNames(tree)), cpio.stdin!), finish(cpio, cpioArgv, { what: 'Writing the cpio archive' })];
  if (compressor) {
    steps.push(pipeline(cpio.stdout!, compressor.stdin!), finish(compressor, compressorArgv!, { what: 'Compressing the cpio archive' }));
  }
  const written = streamToFile((compressor ?? cpio).stdout!, file, config.Checksum);
  const results = await Promise.allSettled([written, ...steps]);
  // The file's own failure (a full disk) explains the broken pipes behind it.
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return (results[0] as PromiseFulfilledResult<string | undefined>).value;
}

export const cpioOutput: OutputFormat = {
  name: 'cpio',

  requiredTools(config: Config): readonly string[] {
    const compression = outputCompression(config);
    return compression ? ['cpio', COMPRESSOR_TOOLS[compression]] : ['cpio'];
  },

  async write(context: BuildContext): Promise<void> {
    const { config } = context;
    const name = path.basename(config.Output);
    const file = path.join(context.staging, name);
    // As mkosi 14 does, UsrOnly= archives /usr alone.
    const tree = config.UsrOnly ? path.join(context.root, 'usr') : context.root;
    try {
      const sha256 = await writeCpio(tree, file, config);
      await chmod(file, 0o644);
      context.artifacts.push({ name, path: file, sha256, checksummed: true });
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
  },
};
