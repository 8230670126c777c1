import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defuseEscapingLinks, escapesRoot } from '../../../src/tree/defuse.js';

describe('escapesRoot', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function link(name: string, target: string): string {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    symlinkSync(target, file);
    return file;
  }

  it('tells links that stay inside from links that leave, as the host kernel follows them', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'kiln-defuse-'));
    mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    expect(await escapesRoot(root, link('bin', 'usr/bin'))).toBe(false);
    expect(await escapesRoot(root, link('etc/resolv.conf', '../run/systemd/resolve/stub-resolv.conf'))).toBe(false);
    expect(await escapesRoot(root, link('etc/hostname', '/etc/hostname'))).toBe(true);
    expect(await escapesRoot(root, link('etc/up', '../../x'))).toBe(true);
    // Lexically "b/.." is the link's directory, but b points at the root, so physically it is outside.
    link('dot', '.');
    expect(await escapesRoot(root, link('sneaky', 'dot/..'))).toBe(true);
    // A chain: each link looks harmless, the last one leads out.
    link('hop2', '/tmp');
    expect(await escapesRoot(root, link('hop1', 'hop2'))).toBe(true);
  });

  it('moves leaving links aside and puts them back over what a tool created', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'kiln-defuse-'));
    const stash = mkdtempSync(path.join(os.tmpdir(), 'kiln-stash-'));
    link('etc/hostname', '/etc/hostname');
    link('bin', 'usr/bin');
    const defused = await defuseEscapingLinks(root, stash);
    expect(() => lstatSync(path.join(root, 'etc/hostname'))).toThrow();
    expect(readlinkSync(path.join(root, 'bin'))).toBe('usr/bin');
    writeFileSync(path.join(root, 'etc/hostname'), 'written by a bootstrap tool\n');
    await defused.restore();
    expect(readlinkSync(path.join(root, 'etc/hostname'))).toBe('/etc/hostname');
    rmSync(stash, { recursive: true, force: true });
  });
});
