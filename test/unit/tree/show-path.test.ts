import { describe, expect, it } from 'vitest';
import { showPath } from '../../../src/tree/show-path.js';

describe('showPath', () => {
  it('shows printable UTF-8 as it is, spaces, stars and dashes included', () => {
    expect(showPath(Buffer.from('/opt/café ☃/-rf *'))).toBe('/opt/café ☃/-rf *');
  });

  it('escapes bytes that are not UTF-8, one by one', () => {
    expect(showPath(Buffer.from([0x2f, 0xe9, 0x74, 0xe9]))).toBe('/\\xe9t\\xe9');
    // A truncated sequence and an overlong encoding are not UTF-8 either.
    expect(showPath(Buffer.from([0xe2, 0x98]))).toBe('\\xe2\\x98');
    expect(showPath(Buffer.from([0xc0, 0xaf]))).toBe('\\xc0\\xaf');
  });

  it('keeps a message on one line and tells a backslash from an escape', () => {
    expect(showPath('new\nline\ttab\r')).toBe('new\\nline\\ttab\\r');
    expect(showPath('back\\slash')).toBe('back\\\\slash');
    expect(showPath('\x1b[31m\x7f\u0085')).toBe('\\x1b[31m\\x7f\\u0085');
  });
});
