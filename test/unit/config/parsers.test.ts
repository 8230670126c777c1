import { describe, expect, it } from 'vitest';
import {
  applyListItems,
  closest,
  editDistance,
  ParseError,
  parseBoolean,
  parseBooleanOr,
  parseEnum,
  parseInteger,
  parseSize,
  resolvePath,
  splitList,
} from '../../../src/config/parsers.js';

describe('parseBoolean', () => {
  it.each(['1', 'true', 'yes', 'y', 't', 'on', 'YES', 'True'])('reads %s as true', (raw) => {
    expect(parseBoolean(raw)).toBe(true);
  });
  it.each(['0', 'false', 'no', 'n', 'f', 'off', 'No', 'OFF'])('reads %s as false', (raw) => {
    expect(parseBoolean(raw)).toBe(false);
  });
  it('refuses anything else, keeping the value for the message', () => {
    const error = (() => {
      try {
        parseBoolean('maybe');
      } catch (e) {
        return e as ParseError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ParseError);
    expect(error?.value).toBe('maybe');
    expect(error?.message).toBe('is not a boolean (use yes/no, true/false, on/off or 1/0)');
  });
  it('refuses the empty string', () => expect(() => parseBoolean('')).toThrow(ParseError));
});

describe('parseBooleanOr', () => {
  const parse = parseBooleanOr(['never'] as const);
  it('takes its own words and booleans', () => {
    expect(parse('never')).toBe('never');
    expect(parse('yes')).toBe(true);
    expect(parse('off')).toBe(false);
  });
  it('lists its words when refusing', () => expect(() => parse('sometimes')).toThrow('is not valid (use yes, no or never)'));
});

describe('parseSize (mkosi parse_bytes)', () => {
  it('takes bytes and 1024-based K, M, G, rounding up to 512-byte sectors', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('1000')).toBe(1024);
    expect(parseSize('1')).toBe(512);
    expect(parseSize('1K')).toBe(1024);
    expect(parseSize('1000K')).toBe(1024_000);
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('3G')).toBe(3 * 1024 ** 3);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
  });
  it('also takes lower-case suffixes and T (kiln)', () => {
    expect(parseSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseSize('1T')).toBe(1024 ** 4);
  });
  it.each(['', '3X', 'G', '-1G', '1 2', '0x10'])('refuses %j', (raw) => {
    expect(() => parseSize(raw)).toThrow(ParseError);
  });
  it('refuses zero', () => expect(() => parseSize('0')).toThrow('is not a size greater than zero'));
});

describe('parseInteger', () => {
  it('takes signed decimal integers', () => {
    expect(parseInteger('2048')).toBe(2048);
    expect(parseInteger('-1')).toBe(-1);
  });
  it.each(['', '1.5', '0x10', 'ten'])('refuses %j', (raw) => expect(() => parseInteger(raw)).toThrow('is not an integer'));
});

describe('parseEnum', () => {
  const parse = parseEnum(['gpt_ext4', 'gpt_btrfs', 'tar'] as const, { raw_gpt: 'gpt_ext4' });
  it('takes the values and maps aliases', () => {
    expect(parse('tar')).toBe('tar');
    expect(parse('raw_gpt')).toBe('gpt_ext4');
  });
  it('is case-sensitive, as mkosi 14', () => expect(() => parse('TAR')).toThrow(ParseError));
  it('lists the valid values and suggests the closest', () => {
    try {
      parse('gpt_ext5');
      expect.unreachable();
    } catch (error) {
      expect((error as ParseError).message).toBe('is not valid (valid values: gpt_ext4, gpt_btrfs, tar)');
      expect((error as ParseError).hint).toBe('did you mean gpt_ext4?');
    }
  });
  it('suggests the target of a close alias', () => {
    try {
      parse('raw_gtp');
      expect.unreachable();
    } catch (error) {
      expect((error as ParseError).hint).toBe('did you mean gpt_ext4?');
    }
  });
});

describe('resolvePath', () => {
  it('resolves relative paths against the configuration directory and keeps absolute ones', () => {
    expect(resolvePath('mkosi.extra', '/srv/project')).toBe('/srv/project/mkosi.extra');
    expect(resolvePath('/etc/x', '/srv/project')).toBe('/etc/x');
  });
});

describe('splitList (mkosi ListAction)', () => {
  it('splits on the delimiter and strips items', () => {
    expect(splitList('a, b ,c', ',')).toEqual(['a', 'b', 'c']);
    expect(splitList('/a:/b', ':')).toEqual(['/a', '/b']);
    expect(splitList('quiet  rw', ' ')).toEqual(['quiet', 'rw']);
  });
  it('reads [a,b] for comma lists only', () => {
    expect(splitList('[a,b]', ',')).toEqual(['a', 'b']);
    expect(splitList('[a b]', ' ')).toEqual(['[a', 'b]']);
  });
  it('does not split inside quotes and keeps the quotes', () => {
    expect(splitList('"a,b",c', ',')).toEqual(['"a,b"', 'c']);
    expect(splitList("A='x y' B=1", ' ')).toEqual(["A='x y'", 'B=1']);
  });
  it('drops empty items', () => expect(splitList('a,,b, ,', ',')).toEqual(['a', 'b']));
});

describe('applyListItems', () => {
  it('appends, removes with !x, clears with !*', () => {
    expect(applyListItems(['a', 'b'], ['c', '!a'])).toEqual(['b', 'c']);
    expect(applyListItems(['a', 'b'], ['!*', 'c'])).toEqual(['c']);
    expect(applyListItems(['a'], ['!missing'])).toEqual(['a']);
  });
  it('drops duplicates keeping the first, unless told not to', () => {
    expect(applyListItems(['a'], ['b', 'a'])).toEqual(['a', 'b']);
    expect(applyListItems(['-x'], ['-x'], false)).toEqual(['-x', '-x']);
  });
  it('removes only the first occurrence, as Python list.remove', () => {
    expect(applyListItems(['a', 'b', 'a'], ['!a'], false)).toEqual(['b', 'a']);
  });
  it('does not change its input', () => {
    const list = ['a'];
    applyListItems(list, ['!*']);
    expect(list).toEqual(['a']);
  });
});

describe('closest / editDistance', () => {
  it('measures edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
  it('suggests plausible typos only, ignoring case', () => {
    expect(closest('Pakages', ['Packages', 'Password'])).toBe('Packages');
    expect(closest('withdocs', ['WithDocs', 'WithTests'])).toBe('WithDocs');
    expect(closest('Completely', ['Packages', 'Format'])).toBeUndefined();
  });
  it('suggests nothing for a short word that shares no letter with any candidate', () => {
    expect(closest('zz', ['a', 'debian-disk'])).toBeUndefined();
    expect(closest('b', ['a'])).toBeUndefined();
    expect(closest('ab', ['a'])).toBe('a');
    expect(closest('debain', ['debian', 'fedora'])).toBe('debian');
  });
});
