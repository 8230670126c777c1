import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/util/crc32c.js';

describe('crc32c', () => {
  it('gives the Castagnoli check values (RFC 3720 and the usual "123456789" vector)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });
});
