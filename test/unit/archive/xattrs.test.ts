import { describe, expect, it } from 'vitest';
import { parseGetfattrDump, unescapeGetfattr, xattrKey } from '../../../src/archive/xattrs.js';

// Output of `getfattr -R -d -m - -e base64 --absolute-names -h /tmp/gf` on a tree made with setfattr.
const DUMP = Buffer.concat([
  Buffer.from('# file: /tmp/gf\nsecurity.selinux=0sc3lzdGVtX3U6b2JqZWN0X3I6dG1wX3Q6czAA\n\n'),
  Buffer.from('# file: /tmp/gf/n\\012l\nuser.t=0sAP+A\n\n'),
  Buffer.from('# file: /tmp/gf/a b\nuser.t=0saGVsbG8=\n\n'),
  Buffer.from('# file: /tmp/gf/ü=x\nuser.a\\075b=0seA==\n\n'),
  Buffer.from('# file: /tmp/gf/plain\nuser.empty=0s\n\n'),
  Buffer.from('# file: /tmp/gf/back\\134slash\nuser.x=0sMQ==\n\n'),
  Buffer.from('# file: /tmp/gf/usr/bin/ping\nsecurity.capability=0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=\n'),
]);

describe('parseGetfattrDump', () => {
  const map = parseGetfattrDump(DUMP, '/tmp/gf/');
  const get = (relative: string) => map.get(xattrKey(Buffer.from(relative)));

  it('keys files by their path below the root, the root itself by the empty path', () => {
    expect(get('')?.get('security.selinux')?.toString()).toBe('system_u:object_r:tmp_t:s0\0');
    expect(get('a b')?.get('user.t')?.toString()).toBe('hello');
    expect(get('ü=x')?.get('user.a=b')?.toString()).toBe('x');
  });

  it('decodes octal escapes in file and attribute names', () => {
    expect(get('n\nl')?.get('user.t')).toEqual(Buffer.from([0x00, 0xff, 0x80]));
    expect(get('back\\slash')?.get('user.x')?.toString()).toBe('1');
  });

  it('keeps binary values and empty values', () => {
    expect(get('usr/bin/ping')?.get('security.capability')).toEqual(Buffer.from('0100000200200000000000000000000000000000', 'hex'));
    expect(get('plain')?.get('user.empty')).toEqual(Buffer.alloc(0));
  });

  it('refuses a file outside the root', () => {
    expect(() => parseGetfattrDump(Buffer.from('# file: /tmp/other\nuser.a=0sMQ==\n'), '/tmp/gf')).toThrow('outside');
  });
});

describe('unescapeGetfattr', () => {
  it('turns \\ooo into the byte and leaves other backslashes alone', () => {
    expect(unescapeGetfattr(Buffer.from('a\\303\\274b\\9x'))).toEqual(Buffer.from('aüb\\9x'));
  });
});
