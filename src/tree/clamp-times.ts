/**
 * SOURCE_DATE_EPOCH for a tree: every access and modification time later than the epoch becomes the
 * epoch, as GNU tar's --clamp-mtime and mmdebstrap do for archives — so what the build created or
 * touched carries the epoch, and what came with an earlier time (files from packages) keeps it.
 * Symlinks are clamped themselves, never followed. The change time cannot be set by anyone but the
 * kernel; file systems made from the tree record the epoch for it instead (disk/).
 */
import { lstat, lutimes } from 'node:fs/promises';
import { walkTree } from './walk.js';

const NS_PER_SECOND = 1_000_000_000n;

/** Seconds (with the nanoseconds as a fraction) for lutimes, which takes what utimensat takes. */
function seconds(ns: bigint): number {
  return Number(ns / NS_PER_SECOND) + Number(ns % NS_PER_SECOND) / 1e9;
}

/** Clamps the times of `root` and everything below it to `epoch`; returns how many entries changed. */
export async function clampTreeTimes(root: string, epoch: number): Promise<number> {
  const limit = BigInt(epoch) * NS_PER_SECOND;
  let changed = 0;
  for await (const entry of walkTree(root)) {
    // The walk has read a directory by the time it yields it, and that read may have moved its access
    // time (relatime: an access time at the epoch is older than a day): its times are taken again.
    const stat = entry.stat.isDirectory() ? await lstat(entry.path, { bigint: true }) : entry.stat;
    const { atimeNs, mtimeNs } = stat;
    if (atimeNs <= limit && mtimeNs <= limit) continue;
    // An untouched time is passed back as it was (to the nanosecond a double holds: the sub-microsecond
    // digits of a time before the epoch may move, the same way every time).
    await lutimes(entry.path, atimeNs > limit ? epoch : seconds(atimeNs), mtimeNs > limit ? epoch : seconds(mtimeNs));
    changed++;
  }
  return changed;
}
