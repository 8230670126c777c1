/**
 * Writes a tree as a (compressed) tar file: kiln's tar stream goes into the compressor's stdin while
 * the compressor's stdout is hashed on its way to the file, so the archive is read from disk once,
 * compressed on every core, and never held in memory. A failure removes the partial file.
 */
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { OutputCompression } from '../config/types.js';
import { KilnError, ToolError, UserError } from '../errors.js';
import { installHint, locateTool } from '../host-tools.js';
import { finish, spawn } from '../run.js';
import { streamToFile } from '../util/hash-stream.js';
import { compressorCommand } from './compressor.js';
import { packTrees, type ArchiveTree, type PackTreeOptions } from './tar-writer.js';

export interface TarFileOptions extends PackTreeOptions {
  readonly compression: OutputCompression | false;
  /** Compute the SHA-256 of the file while writing it. */
  readonly checksum: boolean;
}

/**
 * Archives `root` (or several trees, one after the other) into `file` (mode 0644); returns the
 * file's SHA-256 when `checksum` is on.
 */
export async function writeTarFile(root: string | readonly ArchiveTree[], file: string, options: TarFileOptions): Promise<string | undefined> {
  const trees = typeof root === 'string' ? [{ root }] : root;
  try {
    const sha256 = options.compression
      ? await writeCompressed(trees, file, options.compression, options)
      : await streamToFile(packTrees(trees, options), file, options.checksum);
    // The umask may have taken bits away at creation; artifacts are 0644 whatever it is.
    await chmod(file, 0o644);
    return sha256;
  } catch (error) {
    await rm(file, { force: true });
    throw explainWriteError(error, file);
  }
}

async function writeCompressed(
  trees: readonly ArchiveTree[],
  file: string,
  compression: OutputCompression,
  options: TarFileOptions,
): Promise<string | undefined> {
  const argv = compressorCommand(compression, options.searchPaths);
  const program = argv[0]!;
  if (locateTool(program, options.searchPaths) === undefined) {
    throw new ToolError(argv, `${program} not found (needed for CompressOutput=${compression})`, { code: 127, hint: installHint([program]) });
  }
  const what = `Compressing the archive with ${program}`;
  const child = spawn(argv, { stdin: 'pipe', stdout: 'pipe', what, searchPaths: options.searchPaths });
  const archive = packTrees(trees, options);
  const [fed, written, exited] = await Promise.allSettled([
    pipeline(archive, child.stdin!),
    streamToFile(child.stdout!, file, options.checksum),
    finish(child, argv, { what }),
  ]);
  // Which failure explains the others: a full disk makes the compressor die of SIGPIPE, and a dead
  // compressor breaks kiln's pipe into it; an error reading the tree lets the compressor end cleanly.
  if (written.status === 'rejected') throw written.reason;
  if (exited.status === 'rejected') throw exited.reason;
  if (fed.status === 'rejected') throw fed.reason;
  return written.value;
}

/**
 * File system errors (disk full, a file that vanished or cannot be read) are the user's to fix, not
 * bugs: one line naming the archive, with the system's message, which names the path.
 */
function explainWriteError(error: unknown, file: string): unknown {
  if (error instanceof KilnError || !(error instanceof Error) || !('code' in error) || typeof error.code !== 'string') return error;
  return new UserError(`creating ${path.basename(file)} failed: ${error.message}`);
}
