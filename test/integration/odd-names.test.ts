/**
 * Issue 21: Linux file names are bytes. An mkosi.extra/ with names that are not UTF-8, hold a
 * newline, spaces, backslashes, `*` or start with `-` reaches every output byte for byte — read back
 * with the real tar and with debugfs (no mounts) — and the build says nothing of an internal error.
 * One bootstrap for the three formats: the root comes from the incremental cache after the first.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, TEST_CACHE, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { minimalProject } from './helpers/projects.js';

const skip = whyNotRoot(['mmdebstrap', 'tar', 'getfattr', 'mkfs.ext4', 'debugfs', 'sfdisk']);

const b = (text: string): Buffer => Buffer.from(text);
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** The odd names, each a file holding its own name in hex, some of them below an odd directory. */
const FILES: readonly Buffer[] = [
  latin1('\u00e9t\u00e9'), // "été" in Latin-1: not UTF-8
  b('new\nline'),
  b('two  spaces and a trailing one '),
  b('back\\slash'),
  b('st*r?'),
  b('-rf'),
  b('--help'),
  b('caf\u00e9 \u2603'),
  Buffer.concat([b('long-'), latin1('\u00ff'.repeat(120))]), // past ustar's 100 bytes: a pax path
  Buffer.concat([latin1('d\u00efr\u00a0'), b('/'), latin1('inside\u00e9')]),
  Buffer.concat([b('dir with\ttab'), b('/'), b('-x *')]),
];
const LINK = latin1('l\u00eenk');
const LINK_TARGET = latin1('\u00e9t\u00e9');
const SLASH = b('/');

function join(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [SLASH, part])));
}

/** Every entry below `dir` as relative bytes → content (files), target (links) or 'dir'. */
function readTree(dir: Buffer, prefix: Buffer = Buffer.alloc(0)): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
    const full = join(dir, name);
    const relative = prefix.length === 0 ? name : join(prefix, name);
    const key = relative.toString('hex');
    const stat = fs.lstatSync(full);
    if (stat.isDirectory()) {
      found.set(key, 'dir');
      for (const [k, v] of readTree(full, relative)) found.set(k, v);
    } else if (stat.isSymbolicLink()) found.set(key, `-> ${fs.readlinkSync(full, { encoding: 'buffer' }).toString('hex')}`);
    else found.set(key, fs.readFileSync(full, 'utf8'));
  }
  return found;
}

function sh(argv: readonly string[], cwd?: string): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return result.stdout;
}

describe.skipIf(skip)('file names that are bytes', () => {
  let dir: string;
  let scratch: string;
  let expected: Map<string, string>;

  beforeAll(() => {
    dir = minimalProject({ output: 'Incremental=yes' });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-odd-names-'));
    const odd = join(b(dir), b('mkosi.extra/opt/odd'));
    fs.mkdirSync(odd, { recursive: true });
    for (const file of FILES) {
      const target = join(odd, file);
      fs.mkdirSync(target.subarray(0, target.lastIndexOf(0x2f)), { recursive: true });
      fs.writeFileSync(target, file.toString('hex'));
    }
    fs.symlinkSync(LINK_TARGET, join(odd, LINK));
    expected = readTree(odd);
    // The tree as written is what every output must hold.
    expect(expected.size).toBe(FILES.length + 3);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  async function build(args: readonly string[]): Promise<void> {
    const result = await kiln(['--cache', TEST_CACHE, '-f', ...args, 'build'], { cwd: dir });
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(result.stderr).not.toContain('kiln: error');
    expect(result.status).toBe(0);
    expect(workspacesIn(dir)).toEqual([]);
  }

  it('Format=directory holds every name byte for byte', async () => {
    await build(['-t', 'directory']);
    expect(readTree(b(path.join(dir, 'image/opt/odd')))).toEqual(expected);
  });

  it('Format=tar holds every name byte for byte, as GNU tar extracts it', async () => {
    await build(['-t', 'tar', '--compress-output=no', '-o', 'image.tar']);
    const out = path.join(scratch, 'tar');
    fs.mkdirSync(out);
    sh(['tar', '-xf', path.join(dir, 'image.tar'), '-C', out, './opt/odd']);
    expect(readTree(b(path.join(out, 'opt/odd')))).toEqual(expected);
  });

  it('Format=gpt_ext4 holds every name byte for byte, as debugfs reads the partition', async () => {
    await build(['-t', 'gpt_ext4', '--root-size', '1G']);
    const image = path.join(dir, 'image.raw');
    const table = JSON.parse(sh(['sfdisk', '--json', image])) as { partitiontable: { sectorsize?: number; partitions: { start: number; type: string }[] } };
    // The root partition: x86-64 root (4f68bce3-…), the only Linux file system on this disk.
    const root = table.partitiontable.partitions.find((partition) => partition.type.toLowerCase() === '4f68bce3-e8cd-4db1-96e7-fbcaf984b709');
    expect(root).toBeDefined();
    const offset = root!.start * (table.partitiontable.sectorsize ?? 512);
    const out = path.join(scratch, 'ext4');
    fs.mkdirSync(out);
    sh(['debugfs', '-R', `rdump /opt/odd ${out}`, `${image}?offset=${offset}`]);
    expect(readTree(b(path.join(out, 'odd')))).toEqual(expected);
  });
});
