/**
 * From what lstat says about one file to the tar header tar-stream encodes and the pax records kiln
 * prepends. Pure: no file system access, so every rule (numeric owners, special mode bits, device
 * numbers, when a pax header is needed) is unit-tested.
 */
import { constants, type BigIntStats } from 'node:fs';
import type { Header } from 'tar-stream';
import { UserError } from '../errors.js';
import type { PaxRecord } from './pax.js';
import { xattrKeyword } from './pax.js';
import { showPath } from '../tree/show-path.js';

export type EntryKind = 'file' | 'directory' | 'symlink' | 'character-device' | 'block-device' | 'fifo';

/** The lstat fields a tar header is made of. */
export type EntryStat = Pick<BigIntStats, 'mode' | 'uid' | 'gid' | 'size' | 'mtimeNs' | 'rdev'>;

export interface EntrySource {
  /** Path inside the archive as bytes: `./` for the root, `./usr/bin/ping` below it. */
  readonly name: Buffer;
  readonly stat: EntryStat;
  /** Target of a symbolic link. */
  readonly linkTarget?: Buffer;
  /** Archive path of an earlier entry of the same inode: this one becomes a hard link to it. */
  readonly hardLinkTo?: Buffer;
  /** Extended attributes by name (already filtered). */
  readonly xattrs?: ReadonlyMap<string, Buffer>;
  /** SOURCE_DATE_EPOCH: a later mtime is recorded as this (GNU tar's --clamp-mtime). */
  readonly clampMtime?: number;
}

export interface EntryHeaders {
  /** Always encodable as plain ustar by tar-stream (ASCII, short enough, numbers in range). */
  readonly header: Header;
  /** Records for a preceding pax header; empty when the ustar header says everything. */
  readonly pax: PaxRecord[];
}

/** Largest value of tar-stream's 6-digit octal fields (uid, gid, devmajor, devminor). */
const MAX_SMALL_FIELD = 0o777777;
/** tar-stream truncates the mtime to a 32-bit integer, so later (or earlier) times go to pax. */
const MAX_USTAR_MTIME = 2 ** 31 - 1;
const USTAR_NAME = 100;

/** The archive entry type for a file mode, or undefined for what tar cannot hold (sockets). */
export function kindOf(mode: number): EntryKind | undefined {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG: return 'file';
    case constants.S_IFDIR: return 'directory';
    case constants.S_IFLNK: return 'symlink';
    case constants.S_IFCHR: return 'character-device';
    case constants.S_IFBLK: return 'block-device';
    case constants.S_IFIFO: return 'fifo';
    default: return undefined;
  }
}

/** glibc's gnu_dev_major/gnu_dev_minor: Linux splits both numbers over the 64-bit dev_t. */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Whether tar-stream can put these bytes into a ustar name field as they are. */
function fitsUstar(bytes: Buffer): boolean {
  return bytes.length <= USTAR_NAME && bytes.every((byte) => byte >= 0x20 && byte <= 0x7e);
}

/** Printable ASCII stand-in for a name held in the pax header (readers without pax still get a hint). */
function placeholder(bytes: Buffer): string {
  return Buffer.from(bytes.map((byte) => (byte >= 0x20 && byte <= 0x7e ? byte : 0x5f))).toString('latin1').slice(0, USTAR_NAME);
}

export function entryHeaders(source: EntrySource): EntryHeaders {
  const { stat } = source;
  const mode = Number(stat.mode);
  const kind = kindOf(mode);
  if (kind === undefined) throw new Error(`internal: no tar entry for mode ${mode.toString(8)}`);
  const pax: PaxRecord[] = [];

  let name = source.name.toString('latin1');
  if (!fitsUstar(source.name)) {
    pax.push(['path', source.name]);
    name = placeholder(source.name);
  }

  const link = source.hardLinkTo ?? (kind === 'symlink' ? source.linkTarget ?? Buffer.alloc(0) : undefined);
  let linkname: string | undefined;
  if (link !== undefined) {
    linkname = link.toString('latin1');
    if (!fitsUstar(link)) {
      pax.push(['linkpath', link]);
      linkname = placeholder(link);
    }
  }

  const uid = Number(stat.uid);
  const gid = Number(stat.gid);
  if (uid > MAX_SMALL_FIELD) pax.push(['uid', String(uid)]);
  if (gid > MAX_SMALL_FIELD) pax.push(['gid', String(gid)]);

  let seconds = Number(floorDiv(stat.mtimeNs, 1_000_000_000n));
  if (source.clampMtime !== undefined && seconds > source.clampMtime) seconds = source.clampMtime;
  const mtimeFits = seconds >= 0 && seconds <= MAX_USTAR_MTIME;
  if (!mtimeFits) pax.push(['mtime', String(seconds)]);

  const type = source.hardLinkTo !== undefined ? 'link' : kind;
  const header: Header = {
    name,
    type,
    // The file type bits keep the mode non-zero: tar-stream replaces a mode of 0 (Fedora's
    // /etc/shadow is 0000) with 0644. Only the low 12 bits (with setuid/setgid/sticky) are encoded.
    mode,
    uid: Math.min(uid, MAX_SMALL_FIELD),
    gid: Math.min(gid, MAX_SMALL_FIELD),
    size: type === 'file' ? Number(stat.size) : 0,
    mtime: new Date((mtimeFits ? seconds : 0) * 1000),
    linkname: linkname ?? '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  };

  if (type === 'character-device' || type === 'block-device') {
    const { major, minor } = deviceNumbers(stat.rdev);
    if (major > MAX_SMALL_FIELD || minor > MAX_SMALL_FIELD) {
      throw new UserError(`${showPath(source.name)}: device ${major}:${minor} cannot be stored in a tar archive`);
    }
    header.devmajor = major;
    header.devminor = minor;
  }

  for (const [attribute, value] of [...(source.xattrs ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    pax.push([xattrKeyword(attribute), value]);
  }
  return { header, pax };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return a % b !== 0n && a < 0n ? quotient - 1n : quotient;
}
