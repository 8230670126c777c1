/**
 * btrfs for a reproducible build. mkfs.btrfs of btrfs-progs 6.2 takes the file-system UUID from -U,
 * but draws the device UUID, the chunk tree UUID and the top subvolume's UUID at random, writes the
 * clock's time into the root items, and `--rootdir` copies each file's access and change time from
 * the tree (the change time being when the build last touched the file). None of it can be set on
 * its command line, so the finished image is corrected in place:
 * - those UUIDs become ones derived from the seed, wherever they are recorded (every tree block's
 *   header, the device, chunk and device extent items, the superblocks, the UUID tree's key);
 * - every time in inode and root items becomes the epoch, but modification times, which keep the
 *   tree's (already clamped to the epoch);
 * - the transid of directory entries and extended attributes, which mkfs leaves unset (so it holds
 *   stale bytes, such as the tree's change times), becomes the leaf's generation;
 * - the unused space of each block, where old versions of items linger, becomes zeros;
 * - each block changed gets its CRC-32C again.
 * Tree blocks are found by scanning the image: a block whose header names this file system and whose
 * checksum holds is one, so stale copies mkfs left behind are corrected too and nothing else is
 * touched. `btrfs check` accepts the result (the disk tests run it).
 */
import fs, { type FileHandle } from 'node:fs/promises';
import { crc32c } from '../util/crc32c.js';
import { dataRanges } from './extents.js';
import { makeUuid } from './seeded-uuid.js';

const SUPERBLOCK_OFFSETS = [64 * 1024, 64 * 1024 ** 2, 256 * 1024 ** 3];
const SUPERBLOCK_SIZE = 4096;
const MAGIC = Buffer.from('_BHRfS_M');
const CSUM_SIZE = 32;
const HEADER_SIZE = 101;
const ITEM_SIZE = 25;

const INODE_ITEM = 1;
const XATTR_ITEM = 24;
const DIR_ITEM = 84;
const DIR_INDEX = 96;
const ROOT_ITEM = 132;
const DEV_EXTENT = 204;
const DEV_ITEM = 216;
const CHUNK_ITEM = 228;
const UUID_KEY_SUBVOL = 251;

const INODE_ITEM_SIZE = 160;
const ROOT_ITEM_SIZE = 439;
const TIMESPEC = { atime: 112, ctime: 124, mtime: 136, otime: 148 } as const;
const ROOT_UUID = 247;
const ROOT_TIMES = [327, 339, 351, 363];
const DIR_ENTRY_SIZE = 30;
const DIR_ENTRY_TRANSID = 17;
const DIR_ENTRY_DATA_LEN = 25;
const DIR_ENTRY_NAME_LEN = 27;
const HEADER_GENERATION = 80;
const DEV_ITEM_UUID = 66;
const DEV_EXTENT_CHUNK_TREE_UUID = 32;
const CHUNK_STRIPES = 48;
const STRIPE_SIZE = 32;
const STRIPE_UUID = 16;
const SUPER_DEV_ITEM_UUID = 201 + DEV_ITEM_UUID;
const SUPER_SYS_CHUNK_SIZE = 160;
const SUPER_SYS_CHUNK_ARRAY = 811;

export interface BtrfsStamp {
  /** Times become this (modification times are only clamped to it). */
  readonly epoch?: number;
  /** The device, chunk tree and subvolume UUIDs derive from it. */
  readonly seed?: string;
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

interface Layout {
  readonly fsid: Buffer;
  readonly nodesize: number;
  readonly sectorsize: number;
  readonly deviceUuid: Buffer;
}

async function readSuperblock(handle: FileHandle, offset: number): Promise<Buffer | undefined> {
  const block = Buffer.alloc(SUPERBLOCK_SIZE);
  const { bytesRead } = await handle.read(block, 0, SUPERBLOCK_SIZE, offset);
  if (bytesRead < SUPERBLOCK_SIZE || !block.subarray(64, 72).equals(MAGIC)) return undefined;
  return block;
}

/** What the rewrite does to one image: the old random UUIDs and their replacements. */
class Stamper {
  readonly #epoch: bigint | undefined;
  readonly #seed: string | undefined;
  readonly #deviceUuid: Buffer | undefined;
  /** Old UUID (hex) → new, for the device and each subvolume. */
  readonly #replaced = new Map<string, Buffer>();
  #chunkTreeUuid: Buffer | undefined;
  changedBlocks = 0;

  constructor(layout: Layout, stamp: BtrfsStamp) {
    this.#epoch = stamp.epoch === undefined ? undefined : BigInt(stamp.epoch);
    this.#seed = stamp.seed;
    if (this.#seed !== undefined) {
      this.#deviceUuid = uuidBytes(makeUuid(this.#seed, 'btrfs:device'));
      this.#replaced.set(layout.deviceUuid.toString('hex'), this.#deviceUuid);
      this.#chunkTreeUuid = uuidBytes(makeUuid(this.#seed, 'btrfs:chunk-tree'));
    }
  }

  /** A UUID this rewrite replaces, or undefined to keep it. */
  #replacement(uuid: Buffer): Buffer | undefined {
    return this.#replaced.get(uuid.toString('hex'));
  }

  #setTime(item: Buffer, at: number, mode: 'epoch' | 'clamp'): void {
    if (this.#epoch === undefined) return;
    const seconds = item.readBigInt64LE(at);
    const nanoseconds = item.readUInt32LE(at + 8);
    if (seconds === 0n && nanoseconds === 0) return;
    if (mode === 'clamp' && seconds < this.#epoch) return;
    if (mode === 'clamp' && seconds === this.#epoch && nanoseconds === 0) return;
    item.writeBigInt64LE(this.#epoch, at);
    item.writeUInt32LE(0, at + 8);
  }

  #stampInode(item: Buffer): void {
    this.#setTime(item, TIMESPEC.atime, 'epoch');
    this.#setTime(item, TIMESPEC.ctime, 'epoch');
    this.#setTime(item, TIMESPEC.mtime, 'clamp');
    this.#setTime(item, TIMESPEC.otime, 'epoch');
  }

  #stampRoot(item: Buffer, objectid: bigint): void {
    if (item.length >= INODE_ITEM_SIZE) this.#stampInode(item.subarray(0, INODE_ITEM_SIZE));
    if (item.length < ROOT_ITEM_SIZE) return;
    for (const at of ROOT_TIMES) this.#setTime(item, at, 'epoch');
    const uuid = item.subarray(ROOT_UUID, ROOT_UUID + 16);
    if (this.#seed === undefined || uuid.every((byte) => byte === 0)) return;
    const fresh = this.#replacement(uuid) ?? uuidBytes(makeUuid(this.#seed, `btrfs:subvolume:${objectid}`));
    this.#replaced.set(uuid.toString('hex'), fresh);
    fresh.copy(uuid);
  }

  #replaceUuidAt(bytes: Buffer, at: number): void {
    const fresh = this.#replacement(bytes.subarray(at, at + 16));
    if (fresh) fresh.copy(bytes, at);
  }

  /** The items of a leaf, in place. UUID tree keys come last: their subvolume UUIDs are learnt from the root items. */
  #stampLeaf(block: Buffer): void {
    const count = block.readUInt32LE(96);
    for (let index = 0; index < count; index++) {
      const header = HEADER_SIZE + index * ITEM_SIZE;
      const type = block[header + 8]!;
      const objectid = block.readBigUInt64LE(header);
      const start = HEADER_SIZE + block.readUInt32LE(header + 17);
      const item = block.subarray(start, start + block.readUInt32LE(header + 21));
      if (type === INODE_ITEM && item.length >= INODE_ITEM_SIZE) this.#stampInode(item);
      else if (type === ROOT_ITEM) this.#stampRoot(item, objectid);
      else if (type === DIR_ITEM || type === DIR_INDEX || type === XATTR_ITEM) stampDirEntries(item, block.readBigUInt64LE(HEADER_GENERATION));
      else if (type === DEV_ITEM) this.#replaceUuidAt(item, DEV_ITEM_UUID);
      else if (type === DEV_EXTENT) this.#replaceUuidAt(item, DEV_EXTENT_CHUNK_TREE_UUID);
      else if (type === CHUNK_ITEM) this.#stampStripes(item, 0);
      else if (type === UUID_KEY_SUBVOL) this.#stampUuidKey(block, header, count, index);
    }
  }

  #stampStripes(chunk: Buffer, at: number): number {
    const stripes = chunk.readUInt16LE(at + 44);
    for (let stripe = 0; stripe < stripes; stripe++) this.#replaceUuidAt(chunk, at + CHUNK_STRIPES + stripe * STRIPE_SIZE + STRIPE_UUID);
    return CHUNK_STRIPES + stripes * STRIPE_SIZE;
  }

  /** The UUID tree's key is the subvolume UUID itself: its two halves are the key's objectid and offset. */
  #stampUuidKey(block: Buffer, header: number, count: number, index: number): void {
    const uuid = Buffer.concat([block.subarray(header, header + 8), block.subarray(header + 9, header + 17)]);
    const fresh = this.#replacement(uuid);
    if (!fresh) return;
    // A new key could belong elsewhere in a leaf of several; mkfs makes one subvolume, so one item.
    if (count !== 1) throw new Error(`internal: the UUID tree leaf has ${count} items (index ${index}); kiln rewrites only a single one`);
    fresh.copy(block, header, 0, 8);
    fresh.copy(block, header + 9, 8, 16);
  }

  stampBlock(block: Buffer): void {
    clearFreeSpace(block);
    if (this.#chunkTreeUuid) {
      // Device extents name the chunk tree by the UUID every header carries.
      this.#replaced.set(block.subarray(64, 80).toString('hex'), this.#chunkTreeUuid);
      this.#chunkTreeUuid.copy(block, 64);
    }
    if (block[100] === 0) this.#stampLeaf(block);
    block.fill(0, 4, CSUM_SIZE);
    block.writeUInt32LE(crc32c(block.subarray(CSUM_SIZE)), 0);
    this.changedBlocks++;
  }

  stampSuperblock(block: Buffer): void {
    this.#replaceUuidAt(block, SUPER_DEV_ITEM_UUID);
    const size = block.readUInt32LE(SUPER_SYS_CHUNK_SIZE);
    // sys_chunk_array: a key (17 bytes) and a chunk item with its stripes, one after the other.
    for (let at = SUPER_SYS_CHUNK_ARRAY; at < SUPER_SYS_CHUNK_ARRAY + size; ) at += 17 + this.#stampStripes(block, at + 17);
    block.fill(0, 0, CSUM_SIZE);
    block.writeUInt32LE(crc32c(block.subarray(CSUM_SIZE)), 0);
  }
}

/**
 * btrfs-progs 6.2 never sets the transid of the directory entries and extended attributes it
 * inserts (fixed for directory entries in 6.10): those 8 bytes keep whatever lay there before in
 * the leaf's memory — parts of earlier items, such as the tree's change times. They become the
 * generation of the leaf, which in a fresh file system is the transaction that filled it, as the
 * kernel and later btrfs-progs record. An item holds several entries when their names' hashes collide.
 */
function stampDirEntries(item: Buffer, generation: bigint): void {
  for (let at = 0; at + DIR_ENTRY_SIZE <= item.length; ) {
    item.writeBigUInt64LE(generation, at + DIR_ENTRY_TRANSID);
    at += DIR_ENTRY_SIZE + item.readUInt16LE(at + DIR_ENTRY_NAME_LEN) + item.readUInt16LE(at + DIR_ENTRY_DATA_LEN);
  }
}

const KEY_POINTER_SIZE = 33;

/**
 * The unused middle of a leaf (between item headers and item data) and the tail of a node hold
 * whatever an earlier version of the block had there — old items with the clock's times — and the
 * checksum covers them: they become zeros.
 */
function clearFreeSpace(block: Buffer): void {
  const count = block.readUInt32LE(96);
  if (block[100] !== 0) {
    block.fill(0, Math.min(block.length, HEADER_SIZE + count * KEY_POINTER_SIZE));
    return;
  }
  let dataStart = block.length;
  for (let index = 0; index < count; index++) dataStart = Math.min(dataStart, HEADER_SIZE + block.readUInt32LE(HEADER_SIZE + index * ITEM_SIZE + 17));
  const headersEnd = HEADER_SIZE + count * ITEM_SIZE;
  if (headersEnd < dataStart) block.fill(0, headersEnd, dataStart);
}

function isTreeBlock(block: Buffer, fsid: Buffer): boolean {
  return block.subarray(32, 48).equals(fsid) && block.readUInt32LE(0) === crc32c(block.subarray(CSUM_SIZE));
}

const SCAN_CHUNK = 1024 * 1024;

/** Offsets of every tree block: read in large chunks, only where the image has data, one sector at a time. */
async function findTreeBlocks(handle: FileHandle, image: string, layout: Layout, searchPaths: readonly string[]): Promise<number[]> {
  const { size } = await handle.stat();
  const ranges = (await dataRanges(image, searchPaths)) ?? [{ start: 0, end: size }];
  const chunk = Buffer.alloc(SCAN_CHUNK);
  const node = Buffer.alloc(layout.nodesize);
  const blocks: number[] = [];
  for (const range of ranges) {
    const end = Math.min(range.end, size);
    let at = Math.ceil(range.start / layout.sectorsize) * layout.sectorsize;
    while (at + layout.nodesize <= end) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(SCAN_CHUNK, end - at), at);
      let next = at + bytesRead;
      for (let offset = 0; offset + 48 <= bytesRead; offset += layout.sectorsize) {
        if (!chunk.subarray(offset + 32, offset + 48).equals(layout.fsid)) continue;
        await handle.read(node, 0, node.length, at + offset);
        if (!isTreeBlock(node, layout.fsid)) continue;
        blocks.push(at + offset);
        // The rest of this block is not a header; scanning goes on after it.
        if (offset + layout.nodesize > bytesRead) {
          next = at + offset + layout.nodesize;
          break;
        }
        offset += layout.nodesize - layout.sectorsize;
      }
      if (bytesRead === 0) break;
      at = next;
    }
  }
  return blocks;
}

/**
 * Rewrites the btrfs in `image` as the module comment says; returns how many tree blocks changed.
 * Only crc32c checksums (mkfs' default, what kiln makes) are understood.
 */
export async function stampBtrfs(image: string, stamp: BtrfsStamp, searchPaths: readonly string[] = []): Promise<number> {
  if (stamp.epoch === undefined && stamp.seed === undefined) return 0;
  const handle = await fs.open(image, 'r+');
  try {
    const primary = await readSuperblock(handle, SUPERBLOCK_OFFSETS[0]!);
    if (!primary) throw new Error(`internal: ${image} has no btrfs superblock`);
    if (primary.readUInt16LE(196) !== 0) throw new Error('internal: the btrfs does not use crc32c checksums');
    const layout: Layout = {
      fsid: Buffer.from(primary.subarray(32, 48)),
      sectorsize: primary.readUInt32LE(144),
      nodesize: primary.readUInt32LE(148),
      deviceUuid: Buffer.from(primary.subarray(SUPER_DEV_ITEM_UUID, SUPER_DEV_ITEM_UUID + 16)),
    };
    const stamper = new Stamper(layout, stamp);
    const blocks = await findTreeBlocks(handle, image, layout, searchPaths);
    // Root items first: the UUID tree's keys are the subvolume UUIDs they rename.
    const node = Buffer.alloc(layout.nodesize);
    const ordered = await sortRootTreeFirst(handle, blocks, node);
    for (const at of ordered) {
      await handle.read(node, 0, node.length, at);
      stamper.stampBlock(node);
      await handle.write(node, 0, node.length, at);
    }
    for (const offset of SUPERBLOCK_OFFSETS) {
      const block = await readSuperblock(handle, offset);
      if (!block || !block.subarray(32, 48).equals(layout.fsid)) continue;
      stamper.stampSuperblock(block);
      await handle.write(block, 0, block.length, offset);
    }
    return stamper.changedBlocks;
  } finally {
    await handle.close();
  }
}

/** Blocks owned by the root tree (owner 1) come first, then the rest in image order. */
async function sortRootTreeFirst(handle: FileHandle, blocks: readonly number[], node: Buffer): Promise<number[]> {
  const rootTree: number[] = [];
  const others: number[] = [];
  for (const at of blocks) {
    await handle.read(node, 0, 96, at);
    (node.readBigUInt64LE(88) === 1n ? rootTree : others).push(at);
  }
  return [...rootTree, ...others];
}
