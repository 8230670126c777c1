import { describe, expect, it } from 'vitest';
import { parseDumpe2fs, stampCommands, usedInodes } from '../../../src/disk/ext4-times.js';

/** Trimmed from dumpe2fs 1.47.0 on a file system made with mkfs.ext4 -d. */
const DUMPE2FS = `Filesystem volume name:   root
Inode count:              8192
Free inodes:              8100
Inodes per group:         2048

Group 0: (Blocks 1-8192) csum 0x6b7f [ITABLE_ZEROED]
  Free blocks: 4000-8192
  Free inodes: 70-2048
Group 1: (Blocks 8193-16384) csum 0xcfbe [INODE_UNINIT, ITABLE_ZEROED]
  Free inodes: 2049-2050, 2060-4096
Group 2: (Blocks 16385-24576) csum 0xed87 [ITABLE_ZEROED]
  Free inodes: 
Group 3: (Blocks 24577-32768) csum 0x8519 [INODE_UNINIT, ITABLE_ZEROED]
  Free inodes: 6145-8192
`;

describe('parseDumpe2fs and usedInodes', () => {
  it('lists every inode in use from the first one of the tree, a full group included', () => {
    const { inodeCount, free } = parseDumpe2fs(DUMPE2FS);
    expect(inodeCount).toBe(8192);
    expect(free).toEqual([
      { first: 70, last: 2048 },
      { first: 2049, last: 2050 },
      { first: 2060, last: 4096 },
      { first: 6145, last: 8192 },
    ]);
    const used = usedInodes(inodeCount, free);
    expect(used.slice(0, 3)).toEqual([12, 13, 14]);
    expect(used).toContain(69);
    expect(used).not.toContain(70);
    expect(used).toContain(2051);
    expect(used).toContain(2059);
    expect(used).toContain(4097);
    expect(used).toContain(6144);
    expect(used.length).toBe(69 - 12 + 1 + (2059 - 2051 + 1) + (6144 - 4097 + 1));
  });

  it('stamps access and change times, by inode number', () => {
    expect(stampCommands([2, 12], 1700000000)).toBe('sif <2> atime @1700000000\nsif <2> ctime @1700000000\nsif <12> atime @1700000000\nsif <12> ctime @1700000000\n');
  });
});
