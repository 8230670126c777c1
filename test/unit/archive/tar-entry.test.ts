import { constants, lstatSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deviceNumbers, entryHeaders, kindOf, type EntryStat } from '../../../src/archive/tar-entry.js';

/** glibc's makedev(), written out from <sys/sysmacros.h> to check deviceNumbers() against. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

function stat(fields: Partial<Record<keyof EntryStat, bigint>> & { mode: bigint }): EntryStat {
  return { uid: 0n, gid: 0n, size: 0n, mtimeNs: 1_700_000_000_123_456_789n, rdev: 0n, ...fields };
}

const name = (text: string) => Buffer.from(text);

describe('deviceNumbers', () => {
  it('inverts makedev for small and large numbers', () => {
    for (const [major, minor] of [[1, 3], [8, 1], [259, 0], [4095, 255], [4096, 256], [511, 1_048_575]] as const) {
      expect(deviceNumbers(makedev(major, minor))).toEqual({ major, minor });
    }
  });

  it('reads /dev/null as 1:3, as the kernel defines it', () => {
    expect(deviceNumbers(lstatSync('/dev/null', { bigint: true }).rdev)).toEqual({ major: 1, minor: 3 });
  });
});

describe('kindOf', () => {
  it('maps every file type tar holds and nothing for sockets', () => {
    expect(kindOf(constants.S_IFREG | 0o644)).toBe('file');
    expect(kindOf(constants.S_IFDIR | 0o755)).toBe('directory');
    expect(kindOf(constants.S_IFLNK | 0o777)).toBe('symlink');
    expect(kindOf(constants.S_IFCHR | 0o666)).toBe('character-device');
    expect(kindOf(constants.S_IFBLK | 0o660)).toBe('block-device');
    expect(kindOf(constants.S_IFIFO | 0o600)).toBe('fifo');
    expect(kindOf(constants.S_IFSOCK | 0o755)).toBeUndefined();
  });
});

describe('entryHeaders', () => {
  it('keeps setuid, numeric owners and the mtime in seconds, with no owner names', () => {
    const { header, pax } = entryHeaders({
      name: name('./usr/bin/su'),
      stat: stat({ mode: BigInt(constants.S_IFREG | 0o4755), uid: 1000n, gid: 100n, size: 72_000n }),
    });
    expect(header).toMatchObject({ name: './usr/bin/su', type: 'file', uid: 1000, gid: 100, size: 72_000, uname: '', gname: '' });
    expect(header.mode! & 0o7777).toBe(0o4755);
    expect(header.mtime).toEqual(new Date(1_700_000_000_000));
    expect(pax).toEqual([]);
  });

  it('clamps a later mtime to SOURCE_DATE_EPOCH and keeps an earlier one (GNU tar --clamp-mtime)', () => {
    const file = BigInt(constants.S_IFREG | 0o644);
    expect(entryHeaders({ name: name('./new'), stat: stat({ mode: file }), clampMtime: 1_600_000_000 }).header.mtime).toEqual(new Date(1_600_000_000_000));
    expect(entryHeaders({ name: name('./old'), stat: stat({ mode: file }), clampMtime: 1_800_000_000 }).header.mtime).toEqual(new Date(1_700_000_000_000));
    const future = entryHeaders({ name: name('./future'), stat: stat({ mode: file, mtimeNs: 4_102_444_800_000_000_000n }), clampMtime: 1_600_000_000 });
    expect(future.header.mtime).toEqual(new Date(1_600_000_000_000));
    expect(future.pax).toEqual([]);
  });

  it('keeps a mode of 0000 distinct from "no mode" (tar-stream would make it 0644)', () => {
    const { header } = entryHeaders({ name: name('./etc/shadow'), stat: stat({ mode: BigInt(constants.S_IFREG) }) });
    expect(header.mode).not.toBe(0);
    expect(header.mode! & 0o7777).toBe(0);
  });

  it('gives directories, devices, fifos and links no size', () => {
    const directory = entryHeaders({ name: name('./tmp'), stat: stat({ mode: BigInt(constants.S_IFDIR | 0o1777), size: 4096n }) });
    expect(directory.header).toMatchObject({ type: 'directory', size: 0 });
    expect(directory.header.mode! & 0o7777).toBe(0o1777);
    const device = entryHeaders({ name: name('./dev/sda1'), stat: stat({ mode: BigInt(constants.S_IFBLK | 0o660), rdev: makedev(8, 1) }) });
    expect(device.header).toMatchObject({ type: 'block-device', devmajor: 8, devminor: 1, size: 0 });
    const fifo = entryHeaders({ name: name('./run/initctl'), stat: stat({ mode: BigInt(constants.S_IFIFO | 0o600) }) });
    expect(fifo.header).toMatchObject({ type: 'fifo', size: 0 });
    const link = entryHeaders({ name: name('./b'), hardLinkTo: name('./a'), stat: stat({ mode: BigInt(constants.S_IFREG | 0o644), size: 10n }) });
    expect(link.header).toMatchObject({ type: 'link', linkname: './a', size: 0 });
  });

  it('stores a symlink target in the header, a long or non-ASCII one in pax', () => {
    const short = entryHeaders({ name: name('./bin'), linkTarget: name('usr/bin'), stat: stat({ mode: BigInt(constants.S_IFLNK | 0o777) }) });
    expect(short.header).toMatchObject({ type: 'symlink', linkname: 'usr/bin' });
    expect(short.pax).toEqual([]);
    const target = name(`/${'d/'.repeat(60)}ü`);
    const long = entryHeaders({ name: name('./l'), linkTarget: target, stat: stat({ mode: BigInt(constants.S_IFLNK | 0o777) }) });
    expect(long.pax).toEqual([['linkpath', target]]);
    expect(Buffer.byteLength(long.header.linkname!)).toBeLessThanOrEqual(100);
    expect(long.header.linkname).toMatch(/^[\x20-\x7e]+$/);
  });

  it('moves non-ASCII and long names into pax and leaves an ASCII stand-in tar-stream can encode', () => {
    const unicode = name('./usr/share/ünïcödé name');
    const { header, pax } = entryHeaders({ name: unicode, stat: stat({ mode: BigInt(constants.S_IFREG | 0o644) }) });
    expect(pax).toEqual([['path', unicode]]);
    expect(header.name).toBe('./usr/share/__n__c__d__ name');
    const deep = name(`./${'level/'.repeat(30)}file`);
    expect(entryHeaders({ name: deep, stat: stat({ mode: BigInt(constants.S_IFREG | 0o644) }) }).pax).toEqual([['path', deep]]);
  });

  it('puts owners and times that do not fit the ustar fields into pax', () => {
    const { header, pax } = entryHeaders({
      name: name('./f'),
      stat: stat({ mode: BigInt(constants.S_IFREG | 0o644), uid: 524_288n, gid: 524_289n, mtimeNs: 4_102_444_800_000_000_000n }),
    });
    expect(pax).toEqual([['uid', '524288'], ['gid', '524289'], ['mtime', '4102444800']]);
    expect(header.uid).toBeLessThanOrEqual(0o777777);
    const old = entryHeaders({ name: name('./f'), stat: stat({ mode: BigInt(constants.S_IFREG | 0o644), mtimeNs: -1_500_000_000n }) });
    expect(old.pax).toEqual([['mtime', '-2']]);
  });

  it('adds xattrs as SCHILY.xattr records sorted by name', () => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const { pax } = entryHeaders({
      name: name('./usr/bin/ping'),
      stat: stat({ mode: BigInt(constants.S_IFREG | 0o755) }),
      xattrs: new Map([['user.z', Buffer.from('1')], ['security.capability', capability]]),
    });
    expect(pax).toEqual([['SCHILY.xattr.security.capability', capability], ['SCHILY.xattr.user.z', Buffer.from('1')]]);
  });

  it('refuses device numbers the header cannot hold instead of writing wrong ones', () => {
    expect(() =>
      entryHeaders({ name: name('./dev/x'), stat: stat({ mode: BigInt(constants.S_IFCHR | 0o600), rdev: makedev(240, 1_000_000) }) }),
    ).toThrow('device 240:1000000 cannot be stored');
  });
});
