import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAhead, SMALL_FILE } from '../../../src/archive/read-ahead.js';
import { walkTree, type TreeEntry } from '../../../src/tree/walk.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-walk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

mkdirSync(path.join(root, 'a/b'), { recursive: true });
mkdirSync(path.join(root, 'a-b'));
mkdirSync(path.join(root, 'B'));
writeFileSync(path.join(root, 'a/b/file'), 'deep');
writeFileSync(path.join(root, 'a/z'), '');
writeFileSync(path.join(root, 'a-b/small'), 'x'.repeat(SMALL_FILE));
writeFileSync(path.join(root, 'a-b/large'), 'y'.repeat(SMALL_FILE + 1));
writeFileSync(path.join(root, 'é'), 'accent');
symlinkSync('/nowhere', path.join(root, 'link'));

async function collect<T>(entries: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const entry of entries) result.push(entry);
  return result;
}

const names = (entries: readonly TreeEntry[]) => entries.map((entry) => entry.relative.toString());

describe('walkTree', () => {
  it('yields the root, then each directory before its contents, names sorted bytewise', async () => {
    // Bytewise: 'B' (0x42) < 'a' (0x61); 'a' before 'a-b' because the walk sorts names, not paths;
    // 'é' (0xc3 0xa9) after every ASCII name.
    expect(names(await collect(walkTree(`${root}/`)))).toEqual([
      '', 'B', 'a', 'a/b', 'a/b/file', 'a/z', 'a-b', 'a-b/large', 'a-b/small', 'link', 'é',
    ]);
  });

  it('gives lstat results (a symlink is a symlink, not its missing target)', async () => {
    const link = (await collect(walkTree(root))).find((entry) => entry.relative.toString() === 'link');
    expect(link?.stat.isSymbolicLink()).toBe(true);
  });
});

describe('readAhead', () => {
  it('keeps the order and has small contents and link targets ready, but not large files', async () => {
    const plain = names(await collect(walkTree(root)));
    const ahead = await collect(readAhead(walkTree(root), 3));
    expect(names(ahead)).toEqual(plain);
    const byName = new Map(ahead.map((entry) => [entry.relative.toString(), entry]));
    expect((await byName.get('a-b/small')?.content)?.toString()).toBe('x'.repeat(SMALL_FILE));
    expect(byName.get('a-b/large')?.content).toBeUndefined();
    expect(byName.get('a/z')?.content).toBeUndefined();
    expect((await byName.get('link')?.target)?.toString()).toBe('/nowhere');
  });
});

describe('walkTree over names that are bytes', () => {
  it('yields names that are not UTF-8 as they are, and with leave: true each directory again after its contents', async () => {
    const odd = mkdtempSync(path.join(os.tmpdir(), 'kiln-walk-odd-'));
    try {
      const latin = Buffer.from('\u00e9', 'latin1');
      mkdirSync(Buffer.concat([Buffer.from(`${odd}/d`), latin]));
      writeFileSync(Buffer.concat([Buffer.from(`${odd}/d`), latin, Buffer.from('/f')]), '');
      const entries = await collect(walkTree(odd, { leave: true }));
      expect(entries.map((entry) => [entry.relative.toString('hex'), entry.depth, entry.leaving ?? false])).toEqual([
        ['', 0, false],
        ['64e9', 1, false],
        ['64e92f66', 2, false],
        ['64e9', 1, true],
        ['', 0, true],
      ]);
      expect(entries[1]!.children).toEqual([Buffer.from('f')]);
      expect(entries[2]!.name).toEqual(Buffer.from('f'));
    } finally {
      rmSync(odd, { recursive: true, force: true });
    }
  });
});
