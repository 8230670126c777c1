/**
 * XFS from a tree without mounting: `mkfs.xfs -p PROTOFILE` builds the file system from a prototype
 * file, and an `xfs_db -x` script then corrects what the prototype format cannot say.
 *
 * What xfsprogs 6.1 (Debian 12) protofiles support, read from mkfs/proto.c and checked here:
 * - regular files (contents copied from a path, read whole into memory, so under 2 GiB each),
 *   directories, symlinks, block and character devices, FIFOs; owner, group, setuid, setgid and
 *   the 9 permission bits;
 * - tokens are separated by white space and a token starting with ':' starts a comment, so names
 *   (and symlink targets) with white space or a leading ':' cannot be written, nor a file named '$';
 * - no sticky bit, no time stamps (all get the time of mkfs, atime 0), no sockets, no hard links
 *   (every name becomes its own inode), no extended attributes, and children of a setgid directory
 *   inherit its group.
 * The xfs_db script restores the sticky bit, the owner and mode under setgid directories,
 * extended attributes and ACLs (xfs-xattrs.ts), and atime/mtime/ctime to the nanosecond. Hard links
 * stay separate copies, and attribute sets too big to write this way are lost; the caller is told.
 */
import { readdirSync, readlinkSync, lstatSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { XattrMap } from '../archive/xattrs.js';
import { UserError } from '../errors.js';
import { xfsAttributeCommands } from './xfs-xattrs.js';

export interface XfsPrototype {
  /** The prototype; regular file sources are relative paths, so mkfs.xfs must run in the tree. */
  readonly protofile: string;
  /** xfs_db commands, one a line. */
  readonly fixups: string;
  /** Names of hard-linked files that became separate copies (beyond the first of each). */
  readonly copiedHardLinks: number;
  /** Sockets, which XFS protofiles cannot make (image paths). */
  readonly skippedSockets: readonly string[];
  /** Files whose extended attributes could not be written (image paths). */
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

function refuse(imagePath: string, why: string): never {
  throw new UserError(`gpt_xfs cannot store ${imagePath}: ${why}`, {
    hint: 'rename it in a finalize script, or use Format=gpt_ext4 or gpt_btrfs, whose file systems kiln builds from the tree directly',
  });
}

/** A token of the prototype: no white space, not starting a comment, valid UTF-8 (we hold names as strings). */
function checkToken(token: string, imagePath: string, what: string): void {
  if (token.length === 0) refuse(imagePath, `its ${what} is empty`);
  if (/\s/.test(token)) refuse(imagePath, `xfsprogs' prototype files cannot hold a ${what} with white space`);
  if (token.startsWith(':')) refuse(imagePath, `xfsprogs' prototype files read a ${what} starting with ':' as a comment`);
  if (token.includes('\uFFFD')) refuse(imagePath, `its ${what} is not valid UTF-8`);
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

function timeFixups(stat: BigIntStats): string[] {
  return [
    `write core.atime ${bigtimeHex(stat.atimeNs)}`,
    `write core.mtime ${bigtimeHex(stat.mtimeNs)}`,
    `write core.ctime ${bigtimeHex(stat.ctimeNs)}`,
  ];
}

/** XFS v5 inodes are 512 bytes (mkfs is told so), 176 of them the core: the rest holds both forks. */
const INODE_LITERAL_AREA = 512 - 176;

/** A directory's entries kept in the inode: 6 bytes of header, then length, offset, name, type, inode number. */
function shortFormDirectoryBytes(names: readonly string[]): number {
  const bytes = 6 + names.reduce((sum, name) => sum + 1 + 2 + Buffer.byteLength(name) + 1 + 4, 0);
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

/**
 * Builds the prototype and fix-up script for the tree at `root` (its own mode and times included);
 * `xattrs` are the tree's extended attributes as readTreeXattrs() gives them.
 */
export function buildXfsPrototype(root: string, xattrs: XattrMap = new Map()): XfsPrototype {
  const proto: string[] = [];
  const fixups: string[] = [];
  const seenInodes = new Set<bigint>();
  const skippedSockets: string[] = [];
  const lostXattrs: string[] = [];
  let copiedHardLinks = 0;

  const visit = (relative: string, name: string | null, stat: BigIntStats, parentSetgid: boolean, depth: number): void => {
    const imagePath = `/${relative}`;
    const indent = ' '.repeat(depth);
    const owner = `${stat.uid} ${stat.gid}`;
    const type = stat.mode & S_IFMT;
    const prefix = name === null ? indent : `${indent}${name} `;
    const children = type === S_IFDIR ? readdirSync(path.join(root, relative)).sort() : [];
    let dataFork = 0;
    if (type === S_IFSOCK) {
      skippedSockets.push(imagePath);
      return;
    }
    if (stat.nlink > 1n && type !== S_IFDIR) {
      if (seenInodes.has(stat.ino)) copiedHardLinks++;
      else seenInodes.add(stat.ino);
    }
    switch (type) {
      case S_IFREG:
        if (stat.size > MAX_FILE_SIZE) refuse(imagePath, 'mkfs.xfs copies files of 2 GiB or more wrongly from a prototype');
        checkToken(relative, imagePath, 'path');
        proto.push(`${prefix}${protoMode(stat.mode)} ${owner} ./${relative}`);
        // mkfs.xfs gives every file one extent.
        dataFork = 16;
        break;
      case S_IFLNK: {
        const target = readlinkSync(path.join(root, relative));
        checkToken(target, imagePath, 'symlink target');
        proto.push(`${prefix}${protoMode(stat.mode)} ${owner} ${target}`);
        dataFork = Buffer.byteLength(target);
        break;
      }
      case S_IFBLK:
      case S_IFCHR: {
        const { major, minor } = splitDevice(stat.rdev);
        // mkfs.xfs packs the number IRIX-style: 14 bits of major, 18 of minor.
        if (major >= 2n ** 14n || minor >= 2n ** 18n) refuse(imagePath, `device number ${major}:${minor} does not fit XFS prototype files`);
        proto.push(`${prefix}${protoMode(stat.mode)} ${owner} ${major} ${minor}`);
        dataFork = 8;
        break;
      }
      case S_IFIFO:
        proto.push(`${prefix}${protoMode(stat.mode)} ${owner}`);
        break;
      case S_IFDIR:
        proto.push(`${prefix}${protoMode(stat.mode)} ${owner}`);
        dataFork = shortFormDirectoryBytes(children);
        break;
      default:
        refuse(imagePath, 'it is of an unknown file type');
    }
    fixups.push(`path ${name === null ? '/' : imagePath}`);
    if (stat.mode & S_ISVTX || parentSetgid) {
      fixups.push(`write core.mode 0${stat.mode.toString(8)}`, `write core.uid ${stat.uid}`, `write core.gid ${stat.gid}`);
    }
    const attributes = xattrs.get(Buffer.from(relative).toString('latin1'));
    if (attributes !== undefined) {
      const commands = xfsAttributeCommands(attributes, shortFormAttributeBudget(dataFork));
      if (commands === undefined) lostXattrs.push(imagePath);
      else fixups.push(...commands);
    }
    // Last: setting attributes changes ctime.
    fixups.push(...timeFixups(stat));
    if (type === S_IFDIR) {
      const directory = path.join(root, relative);
      for (const child of children) {
        const childRelative = relative === '' ? child : `${relative}/${child}`;
        if (child === '$') refuse(`/${childRelative}`, "xfsprogs' prototype files read the name '$' as the end of a directory");
        checkToken(child, `/${childRelative}`, 'name');
        visit(childRelative, child, lstatSync(path.join(directory, child), { bigint: true }), (stat.mode & S_ISGID) !== 0n, depth + 1);
      }
      proto.push(`${indent}$`);
    }
  };

  // The first line is a placeholder (once a boot block name), the second two ignored numbers.
  proto.push('kiln', '0 0');
  visit('', null, lstatSync(root, { bigint: true }), false, 0);
  return { protofile: `${proto.join('\n')}\n`, fixups: `${fixups.join('\n')}\n`, copiedHardLinks, skippedSockets, lostXattrs };
}
