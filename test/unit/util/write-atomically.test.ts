import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from '../../../src/util/write-atomically.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-atomic-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomically', () => {
  it('replaces the file by another one (a reader holding the old one keeps reading it) with the mode asked for', async () => {
    const file = path.join(dir, 'mkosi.version');
    writeFileSync(file, '1.0\n');
    const before = statSync(file).ino;
    await writeFileAtomically(file, '1.1\n', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('1.1\n');
    expect(statSync(file).ino).not.toBe(before);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['mkosi.version']);
  });

  it('leaves nothing behind, and the old content in place, when the rename fails', async () => {
    const target = path.join(dir, 'taken');
    mkdirSync(path.join(target, 'inside'), { recursive: true });
    await expect(writeFileAtomically(target, 'x', 0o644)).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['inside']);
  });
});
