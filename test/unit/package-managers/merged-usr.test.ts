import { lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linkMergedUsr, mergedUsrDirectories, unlinkMergedUsr } from '../../../src/package-managers/merged-usr.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('merged /usr links around the skeleton copy', () => {
  it('uses debootstrap\'s list for the architecture', () => {
    expect(mergedUsrDirectories('amd64')).toEqual(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);
    expect(mergedUsrDirectories('arm64')).toEqual(['bin', 'sbin', 'lib']);
  });

  it('makes the links, then takes away only its own', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'kiln-usr-'));
    symlinkSync('somewhere/else', path.join(root, 'lib64'));
    await linkMergedUsr(root, 'amd64');
    expect(readlinkSync(path.join(root, 'bin'))).toBe('usr/bin');
    expect(readlinkSync(path.join(root, 'lib64'))).toBe('somewhere/else');
    await unlinkMergedUsr(root, 'amd64');
    expect(() => lstatSync(path.join(root, 'bin'))).toThrow();
    expect(lstatSync(path.join(root, 'usr/bin')).isDirectory()).toBe(true);
    expect(readlinkSync(path.join(root, 'lib64'))).toBe('somewhere/else');
  });
});
