import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyTreeIntoRoot } from '../../../src/tree/copy-tree.js';

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-copy-tree-'));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const bytes = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));

describe('copyTreeIntoRoot', () => {
  it('copies names that are not UTF-8 (files, directories, link targets) byte for byte', async () => {
    const source = path.join(work, 'extra');
    const root = path.join(work, 'root');
    fs.mkdirSync(root);
    const latin = Buffer.from('\u00e9t\u00e9', 'latin1');
    fs.mkdirSync(bytes(source, '/d', latin), { recursive: true });
    fs.writeFileSync(bytes(source, '/d', latin, '/new\nline'), 'x');
    fs.symlinkSync(latin, bytes(source, '/link'));
    fs.utimesSync(bytes(source, '/d', latin), 1_000_000, 1_000_000);
    await copyTreeIntoRoot(source, root);
    expect(fs.readFileSync(bytes(root, '/d', latin, '/new\nline'), 'utf8')).toBe('x');
    expect(fs.readlinkSync(bytes(root, '/link'), { encoding: 'buffer' })).toEqual(latin);
    // The directory's time is set after its contents went in.
    expect(fs.statSync(bytes(root, '/d', latin)).mtimeMs).toBe(1_000_000_000);
  });

  it('follows a directory symlink of the image within the root (merged /usr)', async () => {
    const source = path.join(work, 'extra');
    const root = path.join(work, 'root');
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.symlinkSync('usr/bin', path.join(root, 'bin'));
    fs.mkdirSync(path.join(source, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(source, 'bin/tool'), '#!/bin/sh\n', { mode: 0o755 });
    await copyTreeIntoRoot(source, root);
    expect(fs.readFileSync(path.join(root, 'usr/bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
    expect(fs.lstatSync(path.join(root, 'bin')).isSymbolicLink()).toBe(true);
  });
});
