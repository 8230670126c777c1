/**
 * Where the bytes of a disk artifact go, front to back, hashed on the way: a sparse file (zero blocks
 * are skipped, so a 3 GiB image with 300 MiB of data costs 300 MiB), or an external compressor
 * whose output is hashed as it reaches the file. Runs of zeros are hashed like any data but never
 * read from disk nor written.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finish, spawn } from '../run.js';
import { streamToFile } from '../util/hash-stream.js';

export const CHUNK = 1024 * 1024;
/** Never written to: the source of every run of zeros. */
const ZEROS = Buffer.alloc(CHUNK);
/** Holes are made at file-system block granularity. */
const BLOCK = 4096;

export interface ByteSink {
  /** Appends `data` (at most CHUNK bytes); the caller may reuse the buffer once this resolves. */
  write(data: Buffer): Promise<void>;
  /** Appends `length` zero bytes. */
  zeros(length: number): Promise<void>;
  /** Finishes the file (mode 0644); returns its SHA-256 in hex when hashing. */
  close(): Promise<string | undefined>;
  /** Gives up: ends any child process; the caller removes the file. */
  abort(): Promise<void>;
}

function hashZeros(hash: Hash | undefined, length: number): void {
  if (!hash) return;
  for (let left = length; left > 0; left -= CHUNK) hash.update(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left));
}

function isZero(data: Buffer): boolean {
  return data.equals(ZEROS.subarray(0, data.length));
}

/** A plain file written with positional writes, leaving holes where the data is zero. */
export async function openSparseFileSink(file: string, options: { hash: boolean }): Promise<ByteSink> {
  const handle = await fs.open(file, 'w', 0o644);
  const hash = options.hash ? createHash('sha256') : undefined;
  let position = 0;
  return {
    async write(data) {
      hash?.update(data);
      if (!isZero(data)) {
        // Write each run of non-zero blocks, skip the zero ones.
        let runStart = -1;
        for (let at = 0; at < data.length; at += BLOCK) {
          const zero = isZero(data.subarray(at, at + BLOCK));
          if (!zero && runStart < 0) runStart = at;
          if (zero && runStart >= 0) {
            await handle.write(data, runStart, at - runStart, position + runStart);
            runStart = -1;
          }
        }
        if (runStart >= 0) await handle.write(data, runStart, data.length - runStart, position + runStart);
      }
      position += data.length;
    },
    async zeros(length) {
      hashZeros(hash, length);
      position += length;
    },
    async close() {
      // The length covers trailing holes; chmod because the umask may have taken bits from 0644.
      await handle.truncate(position);
      await handle.chmod(0o644);
      await handle.close();
      return hash?.digest('hex');
    },
    async abort() {
      await handle.close().catch(() => undefined);
    },
  };
}

async function writeTo(stream: Writable, data: Buffer, failure: () => unknown): Promise<void> {
  const error = failure();
  if (error) throw error;
  if (!stream.write(data)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }
  const late = failure();
  if (late) throw late;
}

/**
 * `argv` (a compressor reading stdin, writing stdout) fed the bytes; its output goes to `file`,
 * hashed on the way, so the hash is of the compressed file as it is stored.
 */
export function openCompressorSink(file: string, argv: readonly string[], options: { hash: boolean; what: string; searchPaths?: readonly string[] }): ByteSink {
  const runOptions = { what: options.what, searchPaths: options.searchPaths };
  const child = spawn(argv, { ...runOptions, stdin: 'pipe', stdout: 'pipe' });
  const stdin = child.stdin!;
  let stdinError: unknown;
  stdin.on('error', (error) => {
    stdinError = error;
  });
  const written = streamToFile(child.stdout!, file, options.hash);
  const exited = finish(child, argv, runOptions);
  // Observed below; these keep an early failure from being reported as unhandled meanwhile.
  written.catch(() => undefined);
  exited.catch(() => undefined);
  const failure = (): unknown => stdinError;
  // A full disk kills the compressor with SIGPIPE, and a failing compressor breaks kiln's pipe into
  // it: the file's error explains the first, the compressor's the second, better than EPIPE does.
  const settle = async (pipeError?: unknown): Promise<string | undefined> => {
    const [output, status] = await Promise.allSettled([written, exited]);
    if (output.status === 'rejected') throw output.reason;
    if (status.status === 'rejected') throw status.reason;
    if (pipeError !== undefined) throw pipeError;
    return output.value;
  };
  const feed = async (data: Buffer): Promise<void> => {
    try {
      await writeTo(stdin, data, failure);
    } catch (error) {
      stdin.destroy();
      await settle(error);
    }
  };
  return {
    async write(data) {
      await feed(Buffer.from(data));
    },
    async zeros(length) {
      for (let left = length; left > 0; left -= CHUNK) await feed(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left));
    },
    async close() {
      stdin.end();
      const sha256 = await settle();
      await fs.chmod(file, 0o644);
      return sha256;
    },
    async abort() {
      stdin.destroy();
      child.kill();
      await Promise.allSettled([written, exited]);
    },
  };
}
