/**
 * Comparing two builds of the same image, so that a difference explains itself: which paths of two
 * trees or tar archives differ and how, or which byte ranges of two disk images differ and in which
 * partition.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { extract } from 'tar-stream';

/** One line per entry of a tree: everything a tree output carries but access and change times. */
export function treeDigestLines(dir: string): string[] {
  const lines: string[] = [];
  const walk = (relative: string): void => {
    const full = relative === '' ? dir : path.join(dir, relative);
    const stat = fs.lstatSync(full, { bigint: true });
    const content = stat.isFile() ? createHash('sha256').update(fs.readFileSync(full)).digest('hex') : '';
    const target = stat.isSymbolicLink() ? fs.readlinkSync(full) : '';
    const device = stat.isCharacterDevice() || stat.isBlockDevice() ? String(stat.rdev) : '';
    lines.push(`/${relative} mode=${stat.mode.toString(8)} owner=${stat.uid}:${stat.gid} size=${stat.isFile() ? stat.size : '-'} mtime=${stat.mtimeNs} nlink=${stat.nlink} ${target}${content}${device}`);
    if (stat.isDirectory()) for (const name of fs.readdirSync(full).sort()) walk(relative === '' ? name : `${relative}/${name}`);
  };
  walk('');
  // Extended attributes of every entry (capabilities, ACLs), as getfattr dumps them.
  const xattrs = spawnSync('getfattr', ['--recursive', '--physical', '--dump', '--match=-', '--encoding=hex', '.'], { cwd: dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (xattrs.status !== 0) throw new Error(`getfattr failed: ${xattrs.stderr}`);
  return [...lines, ...xattrs.stdout.split('\n\n').map((block) => block.trim()).filter(Boolean).sort()];
}

export function digestOf(lines: readonly string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** The lines only one side has, at most `limit` of each: what differs, readable. */
export function describeDifference(a: readonly string[], b: readonly string[], limit = 15): string {
  const inB = new Set(b);
  const inA = new Set(a);
  const onlyA = a.filter((line) => !inB.has(line));
  const onlyB = b.filter((line) => !inA.has(line));
  const show = (lines: string[]): string => lines.slice(0, limit).map((line) => `    ${line.slice(0, 300)}`).join('\n') + (lines.length > limit ? `\n    … and ${lines.length - limit} more` : '');
  return `${onlyA.length} entries only in the first build:\n${show(onlyA)}\n  ${onlyB.length} only in the second:\n${show(onlyB)}`;
}

/** One line per member of a (compressed) tar archive: header fields, pax records and a digest of the content. */
export async function tarListing(file: string): Promise<string[]> {
  const decompress = file.endsWith('.xz') ? ['xz', '-dc', file] : file.endsWith('.zst') ? ['zstd', '-dcq', file] : file.endsWith('.gz') ? ['gzip', '-dc', file] : ['cat', file];
  const child = spawn(decompress[0]!, decompress.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const reader = extract();
  const lines: string[] = [];
  const done = (async () => {
    for await (const entry of reader) {
      const hash = createHash('sha256');
      for await (const chunk of entry) hash.update(chunk as Buffer);
      const h = entry.header;
      const pax = Object.entries(h.pax ?? {}).sort(([x], [y]) => (x < y ? -1 : 1)).map(([key, value]) => `${key}=${Buffer.from(value).toString('hex')}`).join(',');
      lines.push(`${h.name} ${h.type} mode=${(h.mode ?? 0).toString(8)} owner=${h.uid}:${h.gid} size=${h.size} mtime=${h.mtime?.getTime()} link=${h.linkname ?? ''} dev=${h.devmajor}:${h.devminor} pax=${pax} ${hash.digest('hex')}`);
    }
  })();
  child.stdout.pipe(reader);
  await done;
  return lines;
}

export interface Region {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

const BLOCK = 4096;
const CHUNK = 4 * 1024 * 1024;

/**
 * The 4 KiB blocks in which two files of the same size differ, as ranges, each named by the region
 * (a partition) it lies in: "root: blocks 1024-1031 (bytes 4194304-4227071)".
 */
export function blockDifferences(a: string, b: string, regions: readonly Region[] = [], limit = 20): string[] {
  const sizeA = fs.statSync(a).size;
  const sizeB = fs.statSync(b).size;
  if (sizeA !== sizeB) return [`sizes differ: ${sizeA} and ${sizeB} bytes`];
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  const ranges: { first: number; last: number }[] = [];
  try {
    const ba = Buffer.alloc(CHUNK);
    const bb = Buffer.alloc(CHUNK);
    for (let offset = 0; offset < sizeA; offset += CHUNK) {
      const length = fs.readSync(fa, ba, 0, CHUNK, offset);
      fs.readSync(fb, bb, 0, CHUNK, offset);
      if (ba.subarray(0, length).equals(bb.subarray(0, length))) continue;
      for (let at = 0; at < length; at += BLOCK) {
        if (ba.subarray(at, at + BLOCK).equals(bb.subarray(at, at + BLOCK))) continue;
        const block = (offset + at) / BLOCK;
        const last = ranges.at(-1);
        if (last && last.last === block - 1) last.last = block;
        else ranges.push({ first: block, last: block });
      }
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
  const where = (byte: number): string => regions.find((region) => byte >= region.start && byte < region.end)?.name ?? 'outside the partitions';
  const lines = ranges.slice(0, limit).map(({ first, last }) => `${where(first * BLOCK)}: blocks ${first}-${last} (bytes ${first * BLOCK}-${(last + 1) * BLOCK - 1})`);
  if (ranges.length > limit) lines.push(`… and ${ranges.length - limit} more ranges`);
  return lines;
}
