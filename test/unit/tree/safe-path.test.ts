import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { globInRoot, removeGlobInRoot } from '../../../src/tree/glob.js';
import { resolveInRoot, writeFileInRoot } from '../../../src/tree/safe-path.js';

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'kiln-root-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'kiln-outside-'));
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  symlinkSync('usr/bin', path.join(root, 'bin'));
  symlinkSync(outside, path.join(root, 'abs'));
  symlinkSync('../../../../../../..', path.join(root, 'usr/up'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('resolveInRoot', () => {
  it('follows links with the image root as /', async () => {
    expect(await resolveInRoot(root, '/bin/sh')).toBe(path.join(root, 'usr/bin/sh'));
    expect(await resolveInRoot(root, 'abs/file')).toBe(path.join(root, outside, 'file'));
    expect(await resolveInRoot(root, 'usr/up/etc/passwd')).toBe(path.join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '../../etc')).toBe(path.join(root, 'etc'));
  });

  it('can leave the last link alone', async () => {
    expect(await resolveInRoot(root, 'abs', false)).toBe(path.join(root, 'abs'));
  });
});

describe('writeFileInRoot', () => {
  it('replaces a link at the name instead of writing through it', async () => {
    symlinkSync(path.join(outside, 'target'), path.join(root, 'usr/link'));
    await writeFileInRoot(root, '/usr/link', 'inside\n');
    expect(readFileSync(path.join(root, 'usr/link'), 'utf8')).toBe('inside\n');
    expect(() => readlinkSync(path.join(root, 'usr/link'))).toThrow();
    await writeFileInRoot(root, '/abs/x', 'through an absolute link\n');
    expect(readFileSync(path.join(root, outside, 'x'), 'utf8')).toBe('through an absolute link\n');
    expect(() => readFileSync(path.join(outside, 'x'))).toThrow();
  });
});

describe('globInRoot', () => {
  it('matches like glob.glob, with directories resolved inside the root', async () => {
    writeFileSync(path.join(outside, 'host-file.log'), 'host\n');
    mkdirSync(path.join(root, 'var/log'), { recursive: true });
    writeFileSync(path.join(root, 'var/log/a.log'), '');
    writeFileSync(path.join(root, 'var/log/b.txt'), '');
    writeFileSync(path.join(root, 'var/log/.hidden.log'), '');
    expect((await globInRoot(root, '/var/log/*.log')).map(String)).toEqual(['/var/log/a.log']);
    expect(await globInRoot(root, '/abs/*.log')).toEqual([]);
    await removeGlobInRoot(root, '/abs/*');
    expect(readFileSync(path.join(outside, 'host-file.log'), 'utf8')).toBe('host\n');
    await removeGlobInRoot(root, '/var/log/[ab].*');
    expect(await globInRoot(root, '/var/log/*')).toEqual([]);
  });
});
