/**
 * XFS from a tree without mounting: `mkfs.xfs -p PROTOFILE` builds the file system from a prototype
 * file, and an `xfs_db -x` script then corrects what the prototype format cannot say.
 *
 * What xfsprogs 6.1 (Debian 12) protofiles support, read from mkfs/proto.c and checked here:
 * - regular files (contents copied from a path, read whole into memory, so under 2 GiB each),
 *   directories, symlinks, block and character devices, FIFOs; owner, group, setuid, setgid and
 *   the 9 permission bits;
 * - tokens are separated by spaces, tabs and newlines (nothing else: names are bytes to it, UTF-8
 *   or not, and backslashes, '*' or a leading '-' mean nothing), and a token starting with ':'
 *   starts a comment, so names (and symlink targets) with a space, tab or newline or a leading ':'
 *   cannot be written, nor a file named '$', which ends a directory;
 * - no sticky bit, no time stamps (all get the time of mkfs, atime 0), no sockets, no hard links
 *   (every name becomes its own inode), no extended attributes, and children of a setgid directory
 *   inherit its group.
 * The xfs_db script restores the sticky bit, the owner and mode under setgid directories,
 * extended attributes and ACLs (xfs-xattrs.ts), and atime/mtime/ctime to the nanosecond. Hard links
 * stay separate copies, and attribute sets too big to write this way are lost; the caller is told.
 */
import { readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { xattrKey, type XattrMap } from '../archive/xattrs.js';
import { UserError } from '../errors.js';
import { showPath } from '../tree/show-path.js';
import { walkTree } from '../tree/walk.js';
import { xfsAttributeCommands } from './xfs-xattrs.js';

export interface XfsPrototype {
  /** The prototype; regular file sources are relative paths, so mkfs.xfs must run in the tree. */
  readonly protofile: Buffer;
  /** xfs_db commands, one a line (bytes: they name files). */
  readonly fixups: Buffer;
  /** Names of hard-linked files that became separate copies (beyond the first of each). */
  readonly copiedHardLinks: number;
  /** Sockets, which XFS protofiles cannot make (image paths, escaped for messages). */
  readonly skippedSockets: readonly string[];
  /** Files whose extended attributes could not be written (image paths, escaped for messages). */
  readonly lostXattrs: readonly string[];
}

const S_IFMT = 0o170000n;
const S_IFSOCK = 0o140000n;
const S_IFLNK = 0o120000n;
const S_IFREG = 0o100000n;
const S_IFBLK = 0o060000n;
const S_IFDIR = 0o040000n;
const S_IFCHR = 0o020000n;
const S_IFIFO = 0o010000n;
const S_ISUID = 0o4000n;
const S_ISGID = 0o2000n;
const S_ISVTX = 0o1000n;

/** mkfs.xfs keeps a file in an int while copying it. */
const MAX_FILE_SIZE = 2n ** 31n - 1n;
/** XFS bigtime stamps count nanoseconds from the smallest 32-bit time (1901-12-13T20:45:52Z). */
const BIGTIME_EPOCH_OFFSET = 2n ** 31n;

function refuse(imagePath: Buffer, why: string): never {
  throw new UserError(`gpt_xfs cannot store ${showPath(imagePath)}: ${why}`, {
    hint: 'rename it in a finalize script, or use Format=gpt_ext4 or gpt_btrfs, whose file systems kiln builds from the tree directly',
  });
}

/** What mkfs.xfs's prototype reader takes for the end of a token (mkfs/proto.c, getstr()). */
const SEPARATORS = new Set([0x20, 0x09, 0x0a]);
const COLON = 0x3a;

/** A token of the prototype: no separator inside, not starting a comment. */
function checkToken(token: Buffer, imagePath: Buffer, what: string): void {
  if (token.length === 0) refuse(imagePath, `its ${what} is empty`);
  if (token.some((byte) => SEPARATORS.has(byte))) refuse(imagePath, `xfsprogs' prototype files cannot hold a ${what} with a space, tab or newline`);
  if (token[0] === COLON) refuse(imagePath, `xfsprogs' prototype files read a ${what} starting with ':' as a comment`);
}

/** "d--755", "-u-755", "c--666": type, setuid, setgid, permission bits. */
export function protoMode(mode: bigint): string {
  const type = mode & S_IFMT;
  const letter =
    type === S_IFDIR ? 'd' : type === S_IFREG ? '-' : type === S_IFLNK ? 'l' : type === S_IFBLK ? 'b' : type === S_IFCHR ? 'c' : type === S_IFIFO ? 'p' : '?';
  return `${letter}${mode & S_ISUID ? 'u' : '-'}${mode & S_ISGID ? 'g' : '-'}${(mode & 0o777n).toString(8).padStart(3, '0')}`;
}

/**
 * The 8 bytes of an XFS bigtime time stamp for a time in nanoseconds since 1970, as the hex literal
 * that xfs_db writes verbatim (its "sec"/"nsec" fields do not convert bigtime values in 6.1).
 */
export function bigtimeHex(unixNanoseconds: bigint): string {
  let value = unixNanoseconds + BIGTIME_EPOCH_OFFSET * 1_000_000_000n;
  if (value < 0n) value = 0n;
  return `#${value.toString(16).padStart(16, '0')}`;
}

/** Linux dev_t split as glibc's major()/minor() do. */
export function splitDevice(rdev: bigint): { major: bigint; minor: bigint } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major, minor };
}

/**
 * The tree's times; in a reproducible build (an epoch in nanoseconds) the modification time clamped
 * to it and the epoch for the rest, the creation time mkfs took from the clock included.
 */
export function timeFixups(stat: Pick<BigIntStats, 'atimeNs' | 'mtimeNs' | 'ctimeNs'>, epochNs?: bigint): string[] {
  if (epochNs === undefined) {
    return [`write core.atime ${bigtimeHex(stat.atimeNs)}`, `write core.mtime ${bigtimeHex(stat.mtimeNs)}`, `write core.ctime ${bigtimeHex(stat.ctimeNs)}`];
  }
  const epoch = bigtimeHex(epochNs);
  return [
    `write core.atime ${epoch}`,
    `write core.mtime ${bigtimeHex(stat.mtimeNs < epochNs ? stat.mtimeNs : epochNs)}`,
    `write core.ctime ${epoch}`,
    `write v3.crtime ${epoch}`,
  ];
}

/** XFS v5 inodes are 512 bytes (mkfs is told so), 176 of them the core: the rest holds both forks. */
const INODE_LITERAL_AREA = 512 - 176;

/** A directory's entries kept in the inode: 6 bytes of header, then length, offset, name, type, inode number. */
function shortFormDirectoryBytes(names: readonly Buffer[]): number {
  const bytes = 6 + names.reduce((sum, name) => sum + 1 + 2 + name.length + 1 + 4, 0);
  // Too big for the inode: the directory lives in blocks, a few extents in the inode.
  return bytes <= INODE_LITERAL_AREA ? bytes : 48;
}

/**
 * How many bytes of attributes stay in the inode ("short form") beside a data fork of `dataFork`
 * bytes. XFS keeps at least room for a bmap btree root (56 bytes) for the data fork and splits the
 * inode on 8-byte boundaries; another 8 bytes are kept spare.
 */
export function shortFormAttributeBudget(dataFork: number): number {
  return INODE_LITERAL_AREA - Math.ceil(Math.max(dataFork, 56) / 8) * 8 - 8;
}

const DOLLAR = Buffer.from('$');
const SLASH = Buffer.from('/');
const DOT_SLASH = Buffer.from('./');

/** A line of the prototype or the script: its parts (text or bytes) joined as they are. */
function line(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat([...parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)), Buffer.from('\n')]);
}

/**
 * Builds the prototype and fix-up script for the tree at `root` (its own mode and times included);
 * `xattrs` are the tree's extended attributes as readTreeXattrs() gives them; `epoch`,
 * SOURCE_DATE_EPOCH in seconds, makes the times reproducible (timeFixups).
 */
export async function buildXfsPrototype(root: string, xattrs: XattrMap = new Map(), epoch?: number): Promise<XfsPrototype> {
  const epochNs = epoch === undefined ? undefined : BigInt(epoch) * 1_000_000_000n;
  // The first line is a placeholder (once a boot block name), the second two ignored numbers.
  const proto: Buffer[] = [line('kiln'), line('0 0')];
  const fixups: Buffer[] = [];
  const seenInodes = new Set<bigint>();
  const skippedSockets: string[] = [];
  const lostXattrs: string[] = [];
  // Whether the directory at each depth on the way down is setgid: XFS hands its group down.
  const setgid: boolean[] = [];
  let copiedHardLinks = 0;

  for await (const entry of walkTree(root, { leave: true })) {
    const { stat, relative, depth } = entry;
    const imagePath = Buffer.concat([SLASH, relative]);
    const indent = ' '.repeat(depth);
    if (entry.leaving) {
      proto.push(line(indent, DOLLAR));
      continue;
    }
    if (depth > 0) {
      if (entry.name.equals(DOLLAR)) refuse(imagePath, "xfsprogs' prototype files read the name '$' as the end of a directory");
      checkToken(entry.name, imagePath, 'name');
    }
    const owner = `${stat.uid} ${stat.gid}`;
    const type = stat.mode & S_IFMT;
    const prefix = depth === 0 ? [indent] : [indent, entry.name, ' '];
    let dataFork = 0;
    if (type === S_IFSOCK) {
      skippedSockets.push(showPath(imagePath));
      continue;
    }
    if (stat.nlink > 1n && type !== S_IFDIR) {
      if (seenInodes.has(stat.ino)) copiedHardLinks++;
      else seenInodes.add(stat.ino);
    }
    switch (type) {
      case S_IFREG:
        if (stat.size > MAX_FILE_SIZE) refuse(imagePath, 'mkfs.xfs copies files of 2 GiB or more wrongly from a prototype');
        proto.push(line(...prefix, `${protoMode(stat.mode)} ${owner} `, DOT_SLASH, relative));
        // mkfs.xfs gives every file one extent.
        dataFork = 16;
        break;
      case S_IFLNK: {
        const target = await readlink(entry.path, { encoding: 'buffer' });
        checkToken(target, imagePath, 'symlink target');
        proto.push(line(...prefix, `${protoMode(stat.mode)} ${owner} `, target));
        dataFork = target.length;
        break;
      }
      case S_IFBLK:
      case S_IFCHR: {
        const { major, minor } = splitDevice(stat.rdev);
        // mkfs.xfs packs the number IRIX-style: 14 bits of major, 18 of minor.
        if (major >= 2n ** 14n || minor >= 2n ** 18n) refuse(imagePath, `device number ${major}:${minor} does not fit XFS prototype files`);
        proto.push(line(...prefix, `${protoMode(stat.mode)} ${owner} ${major} ${minor}`));
        dataFork = 8;
        break;
      }
      case S_IFIFO:
        proto.push(line(...prefix, `${protoMode(stat.mode)} ${owner}`));
        break;
      case S_IFDIR:
        proto.push(line(...prefix, `${protoMode(stat.mode)} ${owner}`));
        dataFork = shortFormDirectoryBytes(entry.children ?? []);
        break;
      default:
        refuse(imagePath, 'it is of an unknown file type');
    }
    fixups.push(line('path ', imagePath));
    if (stat.mode & S_ISVTX || (depth > 0 && setgid[depth - 1])) {
      fixups.push(line(`write core.mode 0${stat.mode.toString(8)}`), line(`write core.uid ${stat.uid}`), line(`write core.gid ${stat.gid}`));
    }
    const attributes = xattrs.get(xattrKey(relative));
    if (attributes !== undefined) {
      const commands = xfsAttributeCommands(attributes, shortFormAttributeBudget(dataFork));
      if (commands === undefined) lostXattrs.push(showPath(imagePath));
      else fixups.push(...commands.map((command) => line(command)));
    }
    // Last: setting attributes changes ctime.
    fixups.push(...timeFixups(stat, epochNs).map((command) => line(command)));
    if (type === S_IFDIR) setgid[depth] = (stat.mode & S_ISGID) !== 0n;
  }
  return { protofile: Buffer.concat(proto), fixups: Buffer.concat(fixups), copiedHardLinks, skippedSockets, lostXattrs };
}
