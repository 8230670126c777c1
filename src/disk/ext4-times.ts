/**
 * ext4 for a reproducible build. mke2fs takes the file system's own times (creation, last write,
 * each inode's creation time) from E2FSPROGS_FAKE_TIME, but `mke2fs -d` copies every file's access
 * and change time from the tree — and the change time of a file is when the build last touched it,
 * which nothing but the kernel can set. So, once the file system is made, debugfs gives every inode
 * that came from the tree the epoch as its access and change time; the modification time it keeps
 * (the tree's, already clamped). Which inodes are in use, dumpe2fs says (its "Free inodes" lists).
 */
import { ToolError } from '../errors.js';
import { run } from '../run.js';

export interface InodeRange {
  readonly first: number;
  readonly last: number;
}

/** The first inode mke2fs gives a file of the tree (1-10 are reserved, 11 is lost+found, made with the fake time). */
const FIRST_TREE_INODE = 12;
const ROOT_INODE = 2;

/** The inode count and the free inode ranges of every group, from dumpe2fs' output. */
export function parseDumpe2fs(output: string): { inodeCount: number; free: InodeRange[] } {
  const count = /^Inode count:\s+(\d+)$/m.exec(output);
  if (!count) throw new Error('internal: dumpe2fs printed no inode count');
  const free: InodeRange[] = [];
  for (const match of output.matchAll(/^[ \t]+Free inodes:(.*)$/gm)) {
    for (const item of match[1]!.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [first, last = first] = item.split('-').map(Number);
      if (!Number.isInteger(first) || !Number.isInteger(last)) throw new Error(`internal: cannot read dumpe2fs' free inodes "${item}"`);
      free.push({ first: first!, last: last! });
    }
  }
  return { inodeCount: Number(count[1]), free };
}

/** Inodes in use from `from` on: every inode number up to the count that no free range holds. */
export function usedInodes(inodeCount: number, free: readonly InodeRange[], from = FIRST_TREE_INODE): number[] {
  const sorted = [...free].sort((a, b) => a.first - b.first);
  const used: number[] = [];
  let next = from;
  for (const range of sorted) {
    for (let inode = next; inode < Math.min(range.first, inodeCount + 1); inode++) used.push(inode);
    next = Math.max(next, range.last + 1);
  }
  for (let inode = next; inode <= inodeCount; inode++) used.push(inode);
  return used;
}

/** debugfs commands that give these inodes the epoch as access and change time. */
export function stampCommands(inodes: readonly number[], epoch: number): string {
  return inodes.map((inode) => `sif <${inode}> atime @${epoch}\nsif <${inode}> ctime @${epoch}\n`).join('');
}

/**
 * Stamps the access and change times of the root and of every file of the tree in the ext4 at
 * `device` ("image" or "disk?offset=N", as e2fsprogs opens it) with the epoch.
 */
export async function stampExt4Times(device: string, epoch: number, what: string, searchPaths: readonly string[]): Promise<void> {
  const env = { E2FSPROGS_FAKE_TIME: String(epoch) };
  const { stdout } = await run(['dumpe2fs', device], { env, stdio: 'pipe', read: true, what: `Listing the inodes of ${what}`, searchPaths });
  const { inodeCount, free } = parseDumpe2fs(stdout);
  const inodes = [ROOT_INODE, ...usedInodes(inodeCount, free)];
  const argv = ['debugfs', '-w', '-f', '-', device];
  const result = await run(argv, { env, input: stampCommands(inodes, epoch), read: true, what: `Setting the times of ${what} to SOURCE_DATE_EPOCH`, searchPaths });
  const problems = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('debugfs '));
  if (problems.length > 0) throw new ToolError(argv, `debugfs could not set the times of ${what}`, { stderrTail: problems.slice(0, 20).join('\n') });
}
