/**
 * Issue 21: the commit of a build's outputs is all-or-nothing for readers. An output directory that
 * refuses a rename midway (a bind mount over a file: the kernel answers EBUSY, as it would for any
 * mount point) leaves the old complete set, checked with sha256sum and gpg — never a new image
 * beside an old SHA256SUMS or signature.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commitArtifacts } from '../../src/artifacts/commit.js';
import type { Host } from '../../src/config/host.js';
import { loadConfig } from '../../src/config/load.js';
import { CleanupStack, type BuildContext } from '../../src/context.js';
import { whyNotRoot } from './helpers/kiln.js';

const skip = whyNotRoot(['gpg', 'sha256sum', 'mount']);
const HOST: Host = { distribution: 'debian', release: 'bookworm', architecture: 'x86_64', debianMirror: null, kvm: false };

let gnupg: string;
let out: string;
const mounts: string[] = [];

beforeAll(() => {
  if (skip) return;
  gnupg = mkdtempSync(path.join(os.tmpdir(), 'kiln-commit-gpg-'));
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--passphrase', '', '--quick-gen-key', 'commit-test@kiln', 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
});
afterAll(() => {
  if (gnupg) rmSync(gnupg, { recursive: true, force: true });
});
afterEach(() => {
  for (const point of mounts.splice(0)) spawnSync('umount', [point]);
  rmSync(out, { recursive: true, force: true });
});

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** image.raw, image.nspawn, SHA256SUMS of both and its detached signature, written into `dir`. */
function writeSet(dir: string, label: string): void {
  const image = `${label} image\n`;
  const nspawn = `[Exec]\n# ${label}\n`;
  writeFileSync(path.join(dir, 'image.raw'), image);
  writeFileSync(path.join(dir, 'image.nspawn'), nspawn);
  writeFileSync(path.join(dir, 'SHA256SUMS'), `${sha256(image)} *image.raw\n${sha256(nspawn)} *image.nspawn\n`);
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--detach-sign', '--output', path.join(dir, 'SHA256SUMS.gpg'), path.join(dir, 'SHA256SUMS')], { stdio: 'ignore' });
}

/** What a reader of the output directory finds: the set's label, or 'none' when no signed checksums are there. */
function readerSees(dir: string): string {
  const sums = path.join(dir, 'SHA256SUMS');
  const signature = path.join(dir, 'SHA256SUMS.gpg');
  if (!existsSync(signature) && !existsSync(sums)) return 'none';
  // A signature must verify against the checksums beside it, and they against every file they list.
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--verify', signature, sums], { stdio: 'ignore' });
  execFileSync('sha256sum', ['--strict', '-c', sums], { cwd: dir, stdio: 'ignore' });
  return readFileSync(path.join(dir, 'image.raw'), 'utf8').replace(/ image\n$/, '');
}

function bindOver(file: string): void {
  const source = path.join(out, '.bind-source');
  writeFileSync(source, readFileSync(file));
  execFileSync('mount', ['--bind', source, file]);
  mounts.unshift(file);
}

/** The old set in the output directory, a new one staged in the workspace, and the context that commits it. */
function prepare(): BuildContext {
  out = mkdtempSync('/var/tmp/kiln-commit-');
  writeFileSync(path.join(out, 'mkosi.default'), '[Output]\nFormat=gpt_ext4\n[Validation]\nChecksum=yes\nSign=yes\n');
  writeFileSync(path.join(out, 'mkosi.nspawn'), '[Exec]\n');
  writeSet(out, 'old');
  const workspace = path.join(out, '.kiln-build-test');
  const staging = path.join(workspace, 'staging');
  mkdirSync(staging, { recursive: true });
  writeSet(staging, 'new');
  const { config } = loadConfig({ directory: out, commandLine: [], host: HOST, env: { PATH: process.env.PATH }, cwd: out });
  const artifact = (name: string, checksummed: boolean) => ({ name, path: path.join(staging, name), checksummed });
  return {
    config,
    phase: 'final',
    directory: out,
    workspace,
    root: path.join(workspace, 'root'),
    staging,
    outputDirectory: out,
    packageCache: path.join(out, 'cache'),
    cleanup: new CleanupStack(),
    // In the order the pipeline stages them.
    artifacts: [artifact('image.raw', true), artifact('image.nspawn', true), artifact('SHA256SUMS', false), artifact('SHA256SUMS.gpg', false)],
    packages: [],
    nspawnFlags: [],
    reproducibility: { epoch: null, seed: null },
    reusedCachedRoot: false,
    debug: [],
  };
}

describe.skipIf(skip)('commitArtifacts', () => {
  it('replaces the whole set when nothing fails', async () => {
    const context = prepare();
    expect(readerSees(out)).toBe('old');
    await commitArtifacts(context);
    expect(readerSees(out)).toBe('new');
  });

  it('leaves the old complete set when the second rename is refused', async () => {
    const context = prepare();
    // The old image.nspawn is a mount point now: renaming it (or onto it) fails with EBUSY.
    bindOver(path.join(out, 'image.nspawn'));
    await expect(commitArtifacts(context)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(readerSees(out)).toBe('old');
  });

  it('leaves the old complete set when the new signature, the last file, cannot be placed', async () => {
    const context = prepare();
    bindOver(path.join(context.staging, 'SHA256SUMS.gpg'));
    await expect(commitArtifacts(context)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(readerSees(out)).toBe('old');
  });
});
