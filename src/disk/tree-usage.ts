/**
 * How much space a tree takes, to refuse a RootSize= that cannot hold it before running mkfs, and to
 * start the search for the size that does.
 */
import { walkTree } from '../tree/walk.js';

export interface TreeUsage {
  /** Bytes of data blocks: what files occupy on disk (holes excluded), plus directories and long symlinks. */
  readonly bytes: number;
  /** Files, directories, links and nodes, the tree's root included. */
  readonly inodes: number;
}

const BLOCK = 4096n;

/** Walks the tree without following symlinks; hard-linked files count once. */
export async function measureTree(root: string): Promise<TreeUsage> {
  let bytes = 0n;
  let inodes = 0;
  const seen = new Set<bigint>();
  for await (const { stat } of walkTree(root)) {
    if (stat.nlink > 1n && !stat.isDirectory()) {
      if (seen.has(stat.ino)) continue;
      seen.add(stat.ino);
    }
    inodes++;
    if (stat.isFile()) {
      bytes += stat.blocks * 512n;
    } else if (stat.isDirectory()) {
      const blocks = (stat.size + BLOCK - 1n) / BLOCK;
      bytes += (blocks > 1n ? blocks : 1n) * BLOCK;
    } else if (stat.isSymbolicLink() && stat.size > 60n) {
      // Short targets live in the inode on ext4 and XFS; longer ones take a block.
      bytes += BLOCK;
    }
  }
  return { bytes: Number(bytes), inodes };
}
