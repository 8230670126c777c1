import { lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linkMergedUsr, mergedUsrDirectories, unlinkMergedUsr } from '../../../src/package-managers/merged-usr.js';

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('merged /usr links around the skeleton copy', () => {
  it('uses debootstrap\'s list for the architecture', () => {
    expect(mergedUsrDirectories('amd64')).toEqual(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);
    expect(mergedUsrDirectories('arm64')).toEqual(['bin', 'sbin', 'lib']);
  });

  it('makes the links, then takes away only its own', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-usr-'));
    root = dir;
    symlinkSync('somewhere/else', path.join(dir, 'lib64'));
    await linkMergedUsr(dir, 'amd64');
    expect(readlinkSync(path.join(dir, 'bin'))).toBe('usr/bin');
    expect(readlinkSync(path.join(dir, 'lib64'))).toBe('somewhere/else');
    await unlinkMergedUsr(dir, 'amd64');
    expect(() => lstatSync(path.join(dir, 'bin'))).toThrow();
    expect(lstatSync(path.join(dir, 'usr/bin')).isDirectory()).toBe(true);
    expect(readlinkSync(path.join(dir, 'lib64'))).toBe('somewhere/else');
  });
});
