import { describe, expect, it } from 'vitest';
import { encodePaxRecord, paxHeaderEntry, ustarBlock, xattrKeyword } from '../../../src/archive/pax.js';

/** Reads records back the way POSIX defines them: "<len> <key>=<value>\n", len counting bytes. */
function parseRecords(body: Buffer): [string, Buffer][] {
  const records: [string, Buffer][] = [];
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const space = body.indexOf(0x20, offset);
    const length = Number(body.subarray(offset, space).toString('ascii'));
    const record = body.subarray(offset, offset + length);
    expect(record[record.length - 1]).toBe(0x0a);
    const equals = record.indexOf(0x3d);
    records.push([record.subarray(space - offset + 1, equals).toString(), record.subarray(equals + 1, record.length - 1)]);
    offset += length;
  }
  return records;
}

describe('pax records', () => {
  it('counts bytes, not characters, and keeps binary values as they are', () => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const record = encodePaxRecord('SCHILY.xattr.security.capability', capability);
    expect(parseRecords(record)).toEqual([['SCHILY.xattr.security.capability', capability]]);
    const unicode = encodePaxRecord('path', './usr/share/ünïcödé file');
    expect(parseRecords(unicode)).toEqual([['path', Buffer.from('./usr/share/ünïcödé file')]]);
  });

  it('gets the length right where adding its digits carries into another digit', () => {
    // " k=" + value + "\n": a body of 98 bytes needs 2 digits → 100, which has 3 digits → 101.
    for (let size = 80; size < 1100; size++) {
      const record = encodePaxRecord('k', 'v'.repeat(size));
      const declared = Number(record.subarray(0, record.indexOf(0x20)).toString());
      expect(declared).toBe(record.length);
    }
  });

  it('percent-encodes the characters GNU tar escapes in xattr keywords', () => {
    expect(xattrKeyword('user.a=b%c')).toBe('SCHILY.xattr.user.a%3Db%25c');
    expect(xattrKeyword('security.capability')).toBe('SCHILY.xattr.security.capability');
  });
});

describe('pax header entry', () => {
  it('is a type x ustar block with a valid checksum, then the records padded to 512 bytes', () => {
    const entry = paxHeaderEntry('PaxHeaders/ping', [['path', 'a'], ['SCHILY.xattr.user.x', Buffer.from([0xff, 0x00])]], 1_700_000_000);
    expect(entry.length % 512).toBe(0);
    const header = entry.subarray(0, 512);
    expect(String.fromCharCode(header[156]!)).toBe('x');
    expect(header.subarray(257, 263).toString('binary')).toBe('ustar\u0000');
    const size = parseInt(header.subarray(124, 135).toString('ascii'), 8);
    expect(parseRecords(entry.subarray(512, 512 + size))).toEqual([
      ['path', Buffer.from('a')],
      ['SCHILY.xattr.user.x', Buffer.from([0xff, 0x00])],
    ]);
    expect(entry.subarray(512 + size).every((byte) => byte === 0)).toBe(true);
    expect(parseInt(header.subarray(136, 147).toString('ascii'), 8)).toBe(1_700_000_000);
  });

  it('computes the header checksum as the sum of its bytes with the checksum field as spaces', () => {
    const block = ustarBlock({ name: 'PaxHeaders/x', size: 30, mtime: 0, typeflag: 'x' });
    const stored = parseInt(block.subarray(148, 154).toString('ascii'), 8);
    let sum = 0;
    block.forEach((byte, index) => (sum += index >= 148 && index < 156 ? 0x20 : byte));
    expect(stored).toBe(sum);
  });
});
