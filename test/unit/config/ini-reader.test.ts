import { describe, expect, it } from 'vitest';
import { readIni } from '../../../src/config/ini-reader.js';

describe('readIni', () => {
  it('keeps lines, joins continuation lines and strips inline comments', () => {
    const doc = readIni('f', '# c\n[Content]\nPackages=a,b # note\n  c\n\td\nWithDocs=yes\n');
    expect(doc.entries).toEqual([
      expect.objectContaining({ line: 3, section: 'Content', key: 'Packages', value: 'a,b\nc\nd' }),
      expect.objectContaining({ line: 6, key: 'WithDocs', value: 'yes' }),
    ]);
  });

  it('only treats # after whitespace as a comment, never ;', () => {
    const doc = readIni('f', '[Content]\nPackages=vim;x#y\n');
    expect(doc.entries[0]?.value).toBe('vim;x#y');
  });

  it('refuses a key repeated in one section with both lines', () => {
    expect(() => readIni('mkosi.default', '[Content]\nPackages=a\nPackages=b\n')).toThrow(
      'mkosi.default:3: Packages= is set twice in [Content] (first at line 2)',
    );
  });

  it('refuses keys before any section header', () => {
    expect(() => readIni('f', 'Distribution=debian\n')).toThrow('f:1: "Distribution=debian" comes before any [Section] header');
  });
});
