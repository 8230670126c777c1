/**
 * SHA-256 computed while data streams to a file, so that no artifact is read a second time just to
 * checksum it.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class HashingStream extends Transform {
  readonly #hash: Hash = createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  /** Hex digest; only valid once the stream has ended. */
  digest(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * Streams `source` into `file` (created 0644) and returns its SHA-256, or undefined when `hash` is
 * false (no hashing cost when Checksum= is off).
 */
export async function streamToFile(source: Readable, file: string, hash: boolean): Promise<string | undefined> {
  const sink = createWriteStream(file, { mode: 0o644 });
  if (!hash) {
    await pipeline(source, sink);
    return undefined;
  }
  const hasher = new HashingStream();
  await pipeline(source, hasher, sink);
  return hasher.digest();
}
