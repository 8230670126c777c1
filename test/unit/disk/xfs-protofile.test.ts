import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { bigtimeHex, buildXfsPrototype, protoMode, splitDevice, timeFixups } from '../../../src/disk/xfs-protofile.js';

let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-xfs-proto-'));
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

describe('protoMode', () => {
  it('spells type, setuid, setgid and permissions as mkfs.xfs reads them', () => {
    expect(protoMode(0o040755n)).toBe('d--755');
    expect(protoMode(0o104755n)).toBe('-u-755');
    expect(protoMode(0o102755n)).toBe('--g755');
    expect(protoMode(0o120777n)).toBe('l--777');
    expect(protoMode(0o020666n)).toBe('c--666');
    expect(protoMode(0o060660n)).toBe('b--660');
    expect(protoMode(0o010644n)).toBe('p--644');
    // The sticky bit has no letter; the fix-up script sets it.
    expect(protoMode(0o041777n)).toBe('d--777');
  });
});

describe('bigtimeHex', () => {
  it('encodes nanoseconds since 1901-12-13T20:45:52Z, big-endian', () => {
    // Checked with xfs_db: this value prints as 2001-02-03 04:05:06.123456789 UTC.
    expect(bigtimeHex(981173106_123456789n)).toBe('#2b6b38bdd5a7c115');
    expect(bigtimeHex(0n)).toBe(`#${(2n ** 31n * 1_000_000_000n).toString(16).padStart(16, '0')}`);
    expect(bigtimeHex(-(2n ** 40n) * 1_000_000_000n)).toBe('#0000000000000000');
  });
});

describe('splitDevice', () => {
  it('splits dev_t like glibc', () => {
    expect(splitDevice(0x0103n)).toEqual({ major: 1n, minor: 3n });
    expect(splitDevice(0x0501n)).toEqual({ major: 5n, minor: 1n });
    // major 259, minor 300: both need the high bits.
    const dev = ((259n & 0xfffn) << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n);
    expect(splitDevice(dev)).toEqual({ major: 259n, minor: 300n });
  });
});

describe('buildXfsPrototype', () => {
  it('lists the tree depth first with owners, file sources relative to the tree and symlink targets', async () => {
    fs.mkdirSync(path.join(root, 'etc'), { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'etc', 'os-release'), 'ID=test\n', { mode: 0o644 });
    fs.symlinkSync('../usr/lib/x', path.join(root, 'etc', 'link'));
    fs.mkdirSync(path.join(root, 'tmp'));
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    fs.chmodSync(root, 0o755);
    const { protofile, fixups } = await buildXfsPrototype(root);
    expect(protofile.toString().split('\n')).toEqual([
      'kiln',
      '0 0',
      `d--755 ${uid} ${gid}`,
      ` etc d--755 ${uid} ${gid}`,
      `  link l--777 ${uid} ${gid} ../usr/lib/x`,
      `  os-release ---644 ${uid} ${gid} ./etc/os-release`,
      ' $',
      ` tmp d--777 ${uid} ${gid}`,
      ' $',
      '$',
      '',
    ]);
    const lines = fixups.toString().split('\n');
    expect(lines.filter((l) => l.startsWith('path '))).toEqual(['path /', 'path /etc', 'path /etc/link', 'path /etc/os-release', 'path /tmp']);
    // Only the sticky directory needs its mode written again.
    expect(lines.filter((l) => l.startsWith('write core.mode'))).toEqual(['write core.mode 041777']);
    const mtime = fs.lstatSync(path.join(root, 'etc', 'os-release'), { bigint: true }).mtimeNs;
    const start = lines.indexOf('path /etc/os-release');
    expect(lines.slice(start + 1, start + 4)).toContain(`write core.mtime ${bigtimeHex(mtime)}`);
  });

  it('rewrites owner and mode below a setgid directory, whose group XFS would hand down', async () => {
    fs.mkdirSync(path.join(root, 'shared'));
    fs.chmodSync(path.join(root, 'shared'), 0o2775);
    fs.writeFileSync(path.join(root, 'shared', 'f'), '');
    const lines = (await buildXfsPrototype(root)).fixups.toString().split('\n');
    const start = lines.indexOf('path /shared/f');
    expect(lines.slice(start + 1, start + 4)).toEqual([`write core.mode 0100644`, `write core.uid ${uid}`, `write core.gid ${gid}`]);
  });

  it('counts hard links, which become copies, and leaves out sockets', async () => {
    fs.writeFileSync(path.join(root, 'a'), 'x');
    fs.linkSync(path.join(root, 'a'), path.join(root, 'b'));
    fs.linkSync(path.join(root, 'a'), path.join(root, 'c'));
    const net = await import('node:net');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'sock'), resolve));
    try {
      const result = await buildXfsPrototype(root);
      expect(result.copiedHardLinks).toBe(2);
      expect(result.skippedSockets).toEqual(['/sock']);
      expect(result.protofile.toString()).not.toContain('sock');
    } finally {
      server.close();
    }
  });

  it.each([
    ['a name with a space', 'with space', 'a space, tab or newline'],
    ['a name with a tab', 'tab\there', 'a space, tab or newline'],
    ['a name with a newline', 'new\nline', 'a space, tab or newline'],
    ['a name starting with a colon', ':comment', "starting with ':'"],
    ['the name $', '$', "the name '$'"],
  ])('refuses %s, naming it readably', async (_what, name, reason) => {
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', name), '');
    await expect(buildXfsPrototype(root)).rejects.toThrow(UserError);
    await expect(buildXfsPrototype(root)).rejects.toThrow(reason);
    await expect(buildXfsPrototype(root)).rejects.toThrow(`gpt_xfs cannot store /d/${name.replace('\t', '\\t').replace('\n', '\\n')}`);
  });

  it('writes names that are not UTF-8, with backslashes, stars or a leading dash byte for byte', async () => {
    const names = [Buffer.from([0x61, 0xe9, 0x62]), Buffer.from('back\\slash'), Buffer.from('st*r'), Buffer.from('-dash'), Buffer.from('café')];
    for (const name of names) fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/`), name]), '');
    const { protofile, fixups } = await buildXfsPrototype(root);
    for (const name of names) {
      expect(protofile.includes(Buffer.concat([Buffer.from(' '), name, Buffer.from(' ---')]))).toBe(true);
      expect(protofile.includes(Buffer.concat([Buffer.from(' ./'), name, Buffer.from('\n')]))).toBe(true);
      expect(fixups.includes(Buffer.concat([Buffer.from('path /'), name, Buffer.from('\n')]))).toBe(true);
    }
  });

  it('writes extended attributes before the time stamps and reports those it cannot keep', async () => {
    fs.writeFileSync(path.join(root, 'tool'), '');
    fs.writeFileSync(path.join(root, 'huge'), '');
    const xattrs = new Map([
      ['tool', new Map([['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')]])],
      ['huge', new Map([['user.a', Buffer.alloc(150, 1)], ['user.b', Buffer.alloc(150, 1)]])],
    ]);
    const result = await buildXfsPrototype(root, xattrs);
    const lines = result.fixups.toString().split('\n');
    const start = lines.indexOf('path /tool');
    expect(lines.slice(start + 1, start + 4)).toEqual([
      'attr_set -s -v 20 capability',
      'write a.sfattr.list[0].value #0100000200200000000000000000000000000000',
      expect.stringMatching(/^write core\.atime #/),
    ]);
    expect(result.lostXattrs).toEqual(['/huge']);
  });

  it('refuses a symlink target with a space but keeps colons inside names', async () => {
    fs.writeFileSync(path.join(root, 'Foo::Bar.3pm'), '');
    expect((await buildXfsPrototype(root)).protofile.toString()).toContain(' Foo::Bar.3pm ---');
    fs.symlinkSync('a target', path.join(root, 'l'));
    await expect(buildXfsPrototype(root)).rejects.toThrow('symlink target with a space, tab or newline');
  });
});

describe('timeFixups', () => {
  const stat = { atimeNs: 1_750_000_000_000_000_000n, mtimeNs: 1_650_000_000_500_000_000n, ctimeNs: 1_760_000_000_000_000_000n };

  it('writes the tree\'s times as they are without an epoch', () => {
    expect(timeFixups(stat)).toEqual([
      `write core.atime ${bigtimeHex(stat.atimeNs)}`,
      `write core.mtime ${bigtimeHex(stat.mtimeNs)}`,
      `write core.ctime ${bigtimeHex(stat.ctimeNs)}`,
    ]);
  });

  it('with SOURCE_DATE_EPOCH keeps an earlier modification time and gives the epoch to the others, creation included', () => {
    const epoch = 1_700_000_000_000_000_000n;
    expect(timeFixups(stat, epoch)).toEqual([
      `write core.atime ${bigtimeHex(epoch)}`,
      `write core.mtime ${bigtimeHex(stat.mtimeNs)}`,
      `write core.ctime ${bigtimeHex(epoch)}`,
      `write v3.crtime ${bigtimeHex(epoch)}`,
    ]);
    expect(timeFixups({ ...stat, mtimeNs: 1_800_000_000_000_000_000n }, epoch)[1]).toBe(`write core.mtime ${bigtimeHex(epoch)}`);
  });
});
