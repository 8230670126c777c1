import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyRange } from '../../../src/disk/assemble.js';
import { CHUNK, openCompressorSink, openSparseFileSink, type ByteSink } from '../../../src/disk/byte-sink.js';
import { ToolError } from '../../../src/errors.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-sink-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Data, a long run of zeros, data with zero blocks inside, and an unaligned tail. */
function sample(): { parts: (Buffer | number)[]; whole: Buffer } {
  const withHoles = randomBytes(CHUNK);
  withHoles.fill(0, 8192, 8192 + 3 * 4096);
  const parts: (Buffer | number)[] = [randomBytes(5000), 7 * CHUNK + 123, withHoles, Buffer.alloc(CHUNK), randomBytes(77)];
  const whole = Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p) : p)));
  return { parts, whole };
}

async function feed(sink: ByteSink, parts: (Buffer | number)[]): Promise<string | undefined> {
  for (const part of parts) {
    if (typeof part === 'number') await sink.zeros(part);
    else await sink.write(part);
  }
  return sink.close();
}

describe('openSparseFileSink', () => {
  it('writes the bytes, hashes them all, and leaves holes where they are zero', async () => {
    const { parts, whole } = sample();
    const file = path.join(dir, 'disk.raw');
    const sha256 = await feed(await openSparseFileSink(file, { hash: true }), parts);
    const written = fs.readFileSync(file);
    expect(written.equals(whole)).toBe(true);
    expect(sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    // About 1 MiB + 5 KiB of data: far less than the 10 MiB the file spans.
    expect(fs.statSync(file).blocks * 512).toBeLessThan(2 * CHUNK);
  });

  it('makes the file 0644 whatever the umask, and skips hashing when asked', async () => {
    const file = path.join(dir, 'disk.raw');
    const old = process.umask(0o077);
    try {
      expect(await feed(await openSparseFileSink(file, { hash: false }), [Buffer.from('x'), 10])).toBeUndefined();
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.statSync(file).size).toBe(11);
  });
});

describe('copyRange', () => {
  it('copies a range of a file and pads a short file with zeros', async () => {
    const source = path.join(dir, 'source');
    const data = randomBytes(3 * CHUNK + 10);
    fs.writeFileSync(source, data);
    const file = path.join(dir, 'copy');
    const sink = await openSparseFileSink(file, { hash: true });
    await copyRange(source, 100, 2 * CHUNK, sink);
    await copyRange(source, 3 * CHUNK, 50, sink);
    const sha256 = await sink.close();
    const expected = Buffer.concat([data.subarray(100, 100 + 2 * CHUNK), data.subarray(3 * CHUNK), Buffer.alloc(40)]);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    expect(sha256).toBe(createHash('sha256').update(expected).digest('hex'));
  });
});

describe('openCompressorSink', () => {
  it('pipes the bytes through the compressor and hashes the compressed file', async () => {
    const { parts, whole } = sample();
    const file = path.join(dir, 'disk.raw.gz');
    const sha256 = await feed(openCompressorSink(file, ['gzip', '-1', '-c'], { hash: true, what: 'Compressing' }), parts);
    const stored = fs.readFileSync(file);
    expect(sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect(gunzipSync(stored).equals(whole)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
  });

  it('reports a compressor that fails as a ToolError, not as a broken pipe', async () => {
    const file = path.join(dir, 'out');
    const sink = openCompressorSink(file, ['sh', '-c', 'echo "no space" >&2; exit 3'], { hash: true, what: 'Compressing' });
    const attempt = (async () => {
      for (let i = 0; i < 64; i++) await sink.write(randomBytes(CHUNK));
      return sink.close();
    })();
    await expect(attempt).rejects.toThrow(ToolError);
    await expect(attempt).rejects.toThrow('Compressing: sh -c');
  });
});
