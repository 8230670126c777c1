/**
 * How much space a tree takes, to refuse a RootSize= that cannot hold it before running mkfs, and to
 * start the search for the size that does.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface TreeUsage {
  /** Bytes of data blocks: what files occupy on disk (holes excluded), plus directories and long symlinks. */
  readonly bytes: number;
  /** Files, directories, links and nodes, the tree's root included. */
  readonly inodes: number;
}

const BLOCK = 4096;

/** Walks the tree without following symlinks; hard-linked files count once. */
export function measureTree(root: string): TreeUsage {
  let bytes = 0;
  let inodes = 0;
  const seen = new Set<number>();
  const visit = (file: string): void => {
    const stat = lstatSync(file);
    if (stat.nlink > 1 && !stat.isDirectory()) {
      if (seen.has(stat.ino)) return;
      seen.add(stat.ino);
    }
    inodes++;
    if (stat.isFile()) {
      bytes += stat.blocks * 512;
    } else if (stat.isDirectory()) {
      bytes += Math.max(BLOCK, Math.ceil(stat.size / BLOCK) * BLOCK);
      for (const name of readdirSync(file)) visit(path.join(file, name));
    } else if (stat.isSymbolicLink() && stat.size > 60) {
      // Short targets live in the inode on ext4 and XFS; longer ones take a block.
      bytes += BLOCK;
    }
  };
  visit(root);
  return { bytes, inodes };
}
