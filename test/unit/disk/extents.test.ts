import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyRange } from '../../../src/disk/assemble.js';
import { openSparseFileSink, type ByteSink } from '../../../src/disk/byte-sink.js';
import { clipRanges, dataRanges, parseExtents } from '../../../src/disk/extents.js';

// filefrag of a mkfs.btrfs --rootdir image on ext4 (e2fsprogs 1.47).
const FILEFRAG = `Filesystem type is: ef53
File size of /var/tmp/mt/root.img is 3221225472 (3221225472 blocks of 1 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0.. 2097151: 110469578752..110471675903: 2097152:
   1:  5242880.. 8388607: 110474821632..110477967359: 3145728:
   2:  8388608..12664831: 110494744576..110499020799: 4276224: 110477967360:
  11: 3219128320..3221225471: 110492647424..110494744575: 2097152: 113697095680: last,eof
/var/tmp/mt/root.img: 4 extents found
`;

describe('parseExtents', () => {
  it('reads the byte ranges, end exclusive, and merges the touching ones', () => {
    expect(parseExtents(FILEFRAG)).toEqual([
      { start: 0, end: 2097152 },
      { start: 5242880, end: 12664832 },
      { start: 3219128320, end: 3221225472 },
    ]);
  });

  it('finds nothing in a file that is all holes', () => {
    expect(parseExtents('File size of x is 1073741824 (1073741824 blocks of 1 bytes)\nx: 0 extents found\n')).toEqual([]);
  });
});

describe('clipRanges', () => {
  it('keeps what lies in the window, relative to its start', () => {
    const ranges = [{ start: 0, end: 10 }, { start: 20, end: 30 }, { start: 40, end: 50 }];
    expect(clipRanges(ranges, 5, 30)).toEqual([{ start: 0, end: 5 }, { start: 15, end: 25 }]);
    expect(clipRanges(ranges, 10, 10)).toEqual([]);
  });
});

/** A sink that records how many bytes came as data and how many as zeros. */
function counting(inner: ByteSink): ByteSink & { dataBytes: number; zeroBytes: number } {
  const counts = { dataBytes: 0, zeroBytes: 0 };
  return Object.assign(counts, {
    write: async (data: Buffer) => {
      counts.dataBytes += data.length;
      await inner.write(data);
    },
    zeros: async (length: number) => {
      counts.zeroBytes += length;
      await inner.zeros(length);
    },
    close: () => inner.close(),
    abort: () => inner.abort(),
  });
}

describe('copyRange of a sparse file', () => {
  // /var/tmp is disk-backed (FHS); /tmp may be tmpfs, which has no extent map.
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join('/var/tmp', 'kiln-extents-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads only the data extents, and the copy and its hash equal the file', async () => {
    const source = path.join(dir, 'fs.img');
    // Big enough that reading it whole would show (dataBytes below), small enough to hash quickly.
    const size = 32 * 1024 * 1024;
    const head = randomBytes(300_000);
    const middle = randomBytes(70_000);
    const descriptor = fs.openSync(source, 'w');
    fs.writeSync(descriptor, head, 0, head.length, 0);
    fs.writeSync(descriptor, middle, 0, middle.length, 20 * 1024 * 1024 + 12_345);
    fs.ftruncateSync(descriptor, size);
    fs.closeSync(descriptor);

    const ranges = await dataRanges(source);
    expect(ranges, 'filefrag sees the extents on this file system').not.toBeNull();
    const target = path.join(dir, 'copy');
    const sink = counting(await openSparseFileSink(target, { hash: true }));
    await copyRange(source, 0, size, sink);
    const sha256 = await sink.close();

    // Block-rounded data extents, not 32 MiB of reads.
    expect(sink.dataBytes).toBeLessThan(1024 * 1024);
    expect(sink.dataBytes + sink.zeroBytes).toBe(size);
    const expected = fs.readFileSync(source);
    expect(fs.readFileSync(target).equals(expected)).toBe(true);
    expect(sha256).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('sees data written moments ago, before it reached the disk', async () => {
    const source = path.join(dir, 'fresh.img');
    const data = randomBytes(64 * 1024);
    const descriptor = fs.openSync(source, 'w');
    fs.ftruncateSync(descriptor, 16 * 1024 * 1024);
    fs.writeSync(descriptor, data, 0, data.length, 8 * 1024 * 1024);
    fs.closeSync(descriptor);
    const target = path.join(dir, 'copy');
    const sink = await openSparseFileSink(target, { hash: false });
    await copyRange(source, 8 * 1024 * 1024 - 4096, 4096 + data.length, sink);
    await sink.close();
    expect(fs.readFileSync(target).equals(Buffer.concat([Buffer.alloc(4096), data]))).toBe(true);
  });

  it('reads the whole file where there is no extent map', async () => {
    // /dev/shm is tmpfs: filefrag fails there, and the copy must still be right.
    const shm = fs.mkdtempSync('/dev/shm/kiln-extents-');
    try {
      const source = path.join(shm, 'fs.img');
      const data = randomBytes(10_000);
      fs.writeFileSync(source, data);
      expect(await dataRanges(source)).toBeNull();
      const target = path.join(dir, 'copy');
      const sink = await openSparseFileSink(target, { hash: false });
      await copyRange(source, 0, 12_000, sink);
      await sink.close();
      expect(fs.readFileSync(target).equals(Buffer.concat([data, Buffer.alloc(2000)]))).toBe(true);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });
});
