/**
 * Turns a directory tree into a tar stream with tar-stream: numeric owners, full modes, symlinks,
 * hard links (the second occurrence of an inode is a link entry), device nodes, FIFOs and empty
 * directories, xattrs in pax headers. Entries are produced one at a time and each file is read in
 * chunks only as fast as the consumer takes them, so memory stays flat whatever the tree's size.
 */
import { open, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Header, type Pack } from 'tar-stream';
import { UserError } from '../errors.js';
import { debug } from '../log.js';
import { paxHeaderEntry, asciiPrefix } from './pax.js';
import { entryHeaders, kindOf } from './tar-entry.js';
import { readAhead } from './read-ahead.js';
import { showPath } from '../tree/show-path.js';
import { walkTree } from '../tree/walk.js';
import { readTreeXattrs, xattrKey, type XattrMap } from './xattrs.js';

export interface PackTreeOptions {
  /** Leave out security.selinux (TarStripSELinuxContext=). */
  readonly stripSELinuxContext?: boolean;
  /** Where to look for getfattr besides $PATH (ExtraSearchPaths=). */
  readonly searchPaths?: readonly string[];
  /** SOURCE_DATE_EPOCH: no entry's mtime is later (what GNU tar --clamp-mtime and mmdebstrap do). */
  readonly clampMtime?: number;
}

/**
 * One directory tree in an archive. Without a prefix its root is the archive's `./`; with one
 * (Incus' `rootfs`) its root is `./rootfs` and everything in it lies below.
 */
export interface ArchiveTree {
  readonly root: string;
  readonly prefix?: string;
}

const CHUNK = 256 * 1024;
const EMPTY = Buffer.alloc(0);
const DOT_SLASH = Buffer.from('./');
const SLASH = Buffer.from('/');

/** `./usr/bin/ping` for `usr/bin/ping`, `./` for the root; with a prefix, `./rootfs/usr/bin/ping` and `./rootfs`. */
export function archiveName(relative: Buffer, prefix?: string): Buffer {
  if (!prefix) return Buffer.concat([DOT_SLASH, relative]);
  const top = Buffer.from(prefix);
  return relative.length === 0 ? Buffer.concat([DOT_SLASH, top]) : Buffer.concat([DOT_SLASH, top, SLASH, relative]);
}

/**
 * Starts archiving `root` and returns the tar stream at once; read it (pipe it into a compressor or
 * a file) to drive the work. A failure destroys the stream with the error.
 *
 * tar-stream's streams are streamx streams; handing one to Node's stream.pipeline mixes two stream
 * implementations' end and error handling, so it is read through its async iterator into an
 * ordinary Node stream.
 */
export function packTree(root: string, options: PackTreeOptions = {}): Readable {
  return packTrees([{ root }], options);
}

/** Like packTree, for several trees one after the other in one archive (Incus: metadata, then rootfs/). */
export function packTrees(trees: readonly ArchiveTree[], options: PackTreeOptions = {}): Readable {
  const archive = pack();
  fill(archive, trees, options).then(
    () => archive.finalize(),
    (error: unknown) => archive.destroy(error as Error),
  );
  return Readable.from(archive, { objectMode: false });
}

async function fill(archive: Pack, trees: readonly ArchiveTree[], options: PackTreeOptions): Promise<void> {
  // First archive name of every inode with more than one link, by device and inode number.
  const firstNames = new Map<string, Buffer>();
  for (const tree of trees) {
    await fillTree(archive, path.resolve(tree.root), tree.prefix, firstNames, options);
    if (archive.destroyed) return;
  }
}

async function fillTree(archive: Pack, root: string, prefix: string | undefined, firstNames: Map<string, Buffer>, options: PackTreeOptions): Promise<void> {
  const xattrs: XattrMap = await readTreeXattrs(root, {
    drop: options.stripSELinuxContext ? ['security.selinux'] : [],
    searchPaths: options.searchPaths,
  });

  for await (const entry of readAhead(walkTree(root))) {
    if (archive.destroyed) return;
    const kind = kindOf(Number(entry.stat.mode));
    if (kind === undefined) {
      debug(`not archived (tar cannot hold sockets): /${showPath(entry.relative)}`);
      continue;
    }
    const name = archiveName(entry.relative, prefix);
    let hardLinkTo: Buffer | undefined;
    if (kind !== 'directory' && entry.stat.nlink > 1n) {
      const inode = `${entry.stat.dev}:${entry.stat.ino}`;
      hardLinkTo = firstNames.get(inode);
      if (hardLinkTo === undefined) firstNames.set(inode, name);
    }
    const { header, pax } = entryHeaders({
      name,
      stat: entry.stat,
      hardLinkTo,
      linkTarget: kind === 'symlink' && hardLinkTo === undefined ? await (entry.target ?? readlink(entry.path, { encoding: 'buffer' })) : undefined,
      // Attributes belong to the inode: the first entry carries them, a hard link would repeat them.
      xattrs: hardLinkTo === undefined ? xattrs.get(xattrKey(entry.relative)) : undefined,
      clampMtime: options.clampMtime,
    });
    if (pax.length > 0) {
      // Nothing of tar-stream's is pending here (each entry is awaited), so these blocks land
      // directly before the header of the entry they describe.
      archive.push(paxHeaderEntry(`PaxHeaders/${asciiPrefix(path.posix.basename(header.name), 88)}`, pax, header.mtime!.getTime() / 1000));
    }
    if (header.type !== 'file' || header.size === 0) await addEntry(archive, header, EMPTY);
    else if (entry.content) await addEntry(archive, header, sameSize(await entry.content, header.size!, entry.path));
    else await addFile(archive, header, entry.path);
  }
}

// An entry's failure reaches kiln through its callback; its sink also emits it as an 'error' event,
// which would crash the process without a listener.
const ignore = (): void => {};

function addEntry(archive: Pack, header: Header, content: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    archive.entry(header, content, (error) => (error ? reject(error) : resolve())).on('error', ignore);
  });
}

/** The header already says how big the file is; content of another size would corrupt the archive. */
function sameSize(content: Buffer, size: number, file: Buffer): Buffer {
  if (content.length !== size) throw new UserError(`${showPath(file)} changed while it was being archived`);
  return content;
}

async function addFile(archive: Pack, header: Header, file: Buffer): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = archive.entry(header, (error) => (error ? reject(error) : resolve()));
      sink.on('error', ignore);
      copyContent(handle, sink, header.size!, file).catch((error: unknown) => {
        sink.destroy(error as Error);
        reject(error as Error);
      });
    });
  } finally {
    await handle.close();
  }
}

type Sink = ReturnType<Pack['entry']>;
type Handle = Awaited<ReturnType<typeof open>>;

/** Copies exactly `size` bytes (the size lstat gave, already in the header) with backpressure. */
async function copyContent(handle: Handle, sink: Sink, size: number, file: Buffer): Promise<void> {
  let done = 0;
  while (done < size) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, done);
    if (bytesRead === 0) throw new UserError(`${showPath(file)} changed while it was being archived`);
    done += bytesRead;
    const data = bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
    if (done === size) {
      sink.end(data);
      return;
    }
    if (!sink.write(data)) await drained(sink);
    if (sink.destroyed) return;
  }
}

/** Resolves when the sink wants more data, or when it is gone (the caller then stops). */
function drained(sink: Sink): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}
