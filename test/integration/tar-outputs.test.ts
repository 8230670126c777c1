/**
 * The tar and directory output formats through the registry, as the pipeline calls them: a real
 * configuration, a root and a staging directory; the artifacts they record, checked with xz, zstd,
 * tar and sha256sum.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { Host } from '../../src/config/host.js';
import { loadConfig } from '../../src/config/load.js';
import { CleanupStack, type BuildContext } from '../../src/context.js';
import { OUTPUTS } from '../../src/outputs/index.js';
import { needs, unavailable } from '../skip.js';

const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };
const TOOLS = ['getfattr', 'xz', 'zstd', 'tar', 'sha256sum'];
const skip = unavailable(needs(TOOLS, { root: false }));

const work = mkdtempSync('/var/tmp/kiln-tar-outputs-');
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let count = 0;

/** A configuration from a real mkosi.default, and a context with a small root and an empty staging directory. */
function prepare(settings: string): BuildContext {
  const dir = path.join(work, `project-${++count}`);
  mkdirSync(path.join(dir, 'root/usr/lib'), { recursive: true });
  mkdirSync(path.join(dir, 'staging'));
  writeFileSync(path.join(dir, 'mkosi.default'), `[Distribution]\nDistribution=debian\nRelease=bookworm\n${settings}`);
  writeFileSync(path.join(dir, 'root/usr/lib/os-release'), 'ID=debian\n');
  const { config } = loadConfig({ directory: dir, commandLine: [], host: HOST, env: { PATH: process.env.PATH }, cwd: dir });
  return {
    config,
    phase: 'final',
    directory: dir,
    workspace: dir,
    root: path.join(dir, 'root'),
    staging: path.join(dir, 'staging'),
    outputDirectory: path.dirname(config.Output),
    packageCache: path.join(dir, 'cache'),
    cleanup: new CleanupStack(),
    artifacts: [],
    packages: [],
    nspawnFlags: [],
    reproducibility: { epoch: null, seed: null },
    reusedCachedRoot: false,
    debug: [],
  };
}

function sha256sum(file: string): string {
  return execFileSync('sha256sum', [file]).toString().split(' ')[0]!;
}

describe.skipIf(skip)('Format=tar', () => {
  it('writes image.tar.xz by default, checksummed, 0644, with the tree at the top', async () => {
    const context = prepare('[Output]\nFormat=tar\n[Validation]\nChecksum=yes\n');
    expect(OUTPUTS.tar!.requiredTools(context.config)).toEqual(['getfattr', 'xz']);
    await OUTPUTS.tar!.write(context);
    const file = path.join(context.staging, 'image.tar.xz');
    expect(context.artifacts).toEqual([{ name: 'image.tar.xz', path: file, sha256: sha256sum(file), checksummed: true }]);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    execFileSync('xz', ['-t', file]);
    expect(execFileSync('tar', ['-tJf', file]).toString().split('\n')).toContain('./usr/lib/os-release');
  });

  it('compresses with zstd when asked, and warns that older machinectl cannot import it', async () => {
    const context = prepare('[Output]\nFormat=tar\nCompressOutput=zstd\nOutput=image.tar.zst\n[Validation]\nChecksum=yes\n');
    expect(OUTPUTS.tar!.requiredTools(context.config)).toEqual(['getfattr', 'zstd']);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let written: string;
    try {
      await OUTPUTS.tar!.write(context);
    } finally {
      written = stderr.mock.calls.map(([text]) => String(text)).join('');
      stderr.mockRestore();
    }
    expect(vi.isMockFunction(process.stderr.write)).toBe(false);
    expect(written).toMatch(/warning: machinectl import-tar before systemd 258 cannot read zstd/);
    const file = path.join(context.staging, 'image.tar.zst');
    expect(context.artifacts[0]).toMatchObject({ name: 'image.tar.zst', sha256: sha256sum(file), checksummed: true });
    execFileSync('zstd', ['-tq', file]);
  });

  it('writes a plain tar, with no checksum computed, for CompressOutput=no and Checksum=no', async () => {
    const context = prepare('[Output]\nFormat=tar\nCompressOutput=no\n[Validation]\nChecksum=no\n');
    expect(OUTPUTS.tar!.requiredTools(context.config)).toEqual(['getfattr']);
    await OUTPUTS.tar!.write(context);
    const artifact = context.artifacts[0]!;
    expect(artifact.name).toBe('image.tar');
    expect(artifact.sha256).toBeUndefined();
    // ustar magic at offset 257 of the first header: not compressed.
    expect(readFileSync(artifact.path).subarray(257, 262).toString()).toBe('ustar');
  });
});

describe('Format=directory', () => {
  it('moves the root into staging under the output name and lists it without a checksum', async () => {
    const context = prepare('[Output]\nFormat=directory\n');
    expect(OUTPUTS.directory!.requiredTools(context.config)).toEqual([]);
    const inode = statSync(path.join(context.root, 'usr/lib/os-release')).ino;
    await OUTPUTS.directory!.write(context);
    const target = path.join(context.staging, 'image');
    // afterReplace keeps the replaced tree as the spare for the next -i rebuild (rsync'd, not copied).
    expect(context.artifacts).toEqual([{ name: 'image', path: target, checksummed: false, isDirectory: true, afterReplace: expect.any(Function) }]);
    expect(existsSync(context.root)).toBe(false);
    // Renamed, not copied: the same inode.
    expect(statSync(path.join(target, 'usr/lib/os-release')).ino).toBe(inode);
  });
});
