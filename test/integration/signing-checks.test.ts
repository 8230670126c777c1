/**
 * Sign=yes fails before the build starts when gpg cannot sign (no key, a key that needs a passphrase,
 * no keyring): no workspace, no output, seconds instead of a build. And `kiln genkey` makes a key
 * that signs without asking, and refuses to make a confusing second one. Real gpg, temporary
 * keyrings; no build runs here.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN, kiln, makeProject, processesMentioning, TEST_CACHE, whyNotRoot, workspacesIn, type KilnResult } from './helpers/kiln.js';

const skip = whyNotRoot(['gpg', 'mmdebstrap', 'unshare']);

/**
 * Runs kiln in a private mount namespace whose /dev is a fresh tmpfs with its own device nodes, and
 * reports whether /dev/null was still a character device afterwards: when signing fails gpg deletes
 * its output file, and a probe written to /dev/null once deleted the host's.
 */
function kilnWithPrivateDev(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<KilnResult & { devNullIntact: boolean }> {
  const script = [
    'mount -t tmpfs -o mode=755 kiln-test-dev /dev',
    'mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9',
    '"$@"; status=$?',
    'if [ -c /dev/null ]; then echo "dev-null: intact" >&2; else echo "dev-null: gone" >&2; fi',
    'exit $status',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', KILN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, devNullIntact: stderr.includes('dev-null: intact') }));
  });
}

/** gpg in a private keyring, for setting up keys the way a user would (not through kiln). */
function gpg(home: string, args: readonly string[], input?: string): string {
  return execFileSync('gpg', ['--batch', '--no-tty', ...args], { env: { ...process.env, GNUPGHOME: home }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Ends the gpg-agent a keyring started, so that no process outlives the test. */
function stopAgent(home: string): void {
  spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
}

describe.skipIf(skip)('Sign=yes with a key gpg cannot use', () => {
  let home: string;
  let project: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-'));
    gpg(home, ['--pinentry-mode', 'loopback', '--passphrase', 'correct horse', '--quick-generate-key', 'Locked <locked@localhost>', 'ed25519', 'sign', 'never']);
    project = makeProject('debian-minimal');
  });

  afterAll(() => {
    stopAgent(home);
    rmSync(home, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
    expect(processesMentioning(home)).toEqual([]);
  });

  /** A signed build of images/debian-minimal that must stop at the checks. */
  async function refusedBuild(key: string | undefined, env: NodeJS.ProcessEnv) {
    const started = performance.now();
    const result = await kilnWithPrivateDev(['--cache', TEST_CACHE, '--sign', ...(key ? ['--key', key] : []), 'build'], { cwd: project, env });
    const seconds = (performance.now() - started) / 1000;
    expect(result.status, result.stderr).toBe(1);
    expect(result.devNullIntact).toBe(true);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('Installing packages');
    expect(workspacesIn(project)).toEqual([]);
    expect(readdirSync(project).filter((name) => /^image\.|^SHA256SUMS/.test(name))).toEqual([]);
    // The checks take well under a second; a build takes minutes.
    expect(seconds).toBeLessThan(15);
    return result;
  }

  it('names a Key= that matches no secret key', async () => {
    const result = await refusedBuild('nobody@localhost', { GNUPGHOME: home });
    expect(result.stderr).toContain(`kiln: error: Sign=yes: no gpg secret key matches Key=nobody@localhost in ${home}\n`);
    expect(result.stderr).toContain('kiln: hint: list the keys with:');
  });

  it('recognises a key that needs a passphrase, without ever asking for it', async () => {
    const fingerprint = gpg(home, ['--with-colons', '--list-secret-keys', 'locked@localhost']).match(/^fpr:+([0-9A-F]{40}):/m)![1]!;
    const result = await refusedBuild('locked@localhost', { GNUPGHOME: home });
    expect(result.stderr).toContain(`kiln: error: Sign=yes: the gpg key ${fingerprint} is protected by a passphrase, and kiln signs without asking for one\n`);
    expect(result.stderr).not.toContain('correct horse');
  });

  it('says when there is no keyring at all', async () => {
    const nowhere = path.join(home, 'does-not-exist');
    const result = await refusedBuild(undefined, { GNUPGHOME: nowhere });
    expect(result.stderr).toContain(`kiln: error: Sign=yes: there is no gpg keyring at ${nowhere}\n`);
    expect(existsSync(nowhere)).toBe(false);
  });

  it('reports the key together with the other problems', async () => {
    writeFileSync(path.join(project, 'image.tar.xz'), 'an older build\n');
    try {
      const result = await kiln(['--cache', TEST_CACHE, '--sign', '--key', 'nobody@localhost', 'build'], { cwd: project, env: { GNUPGHOME: home } });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('kiln: error: image.tar.xz already exists\n');
      expect(result.stderr).toContain('kiln: error: Sign=yes: no gpg secret key matches Key=nobody@localhost');
      expect(workspacesIn(project)).toEqual([]);
    } finally {
      rmSync(path.join(project, 'image.tar.xz'));
    }
  });
});

describe.skipIf(skip)('kiln genkey', () => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-'));
  });

  afterAll(() => {
    for (const keyring of readdirSync(home)) stopAgent(path.join(home, keyring));
    rmSync(home, { recursive: true, force: true });
    expect(processesMentioning(home)).toEqual([]);
  });

  it('makes a signing key without a passphrase and says how to use it', async () => {
    const keyring = path.join(home, 'fresh');
    const result = await kiln(['genkey', 'Kiln CI <ci@localhost>'], { env: { GNUPGHOME: keyring } });
    expect(result.status, result.stderr).toBe(0);
    const fingerprint = result.stdout.trim();
    expect(fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(result.stderr).toContain(`Key=${fingerprint}`);
    expect(result.stderr).toContain(`gpg --export ${fingerprint} > /etc/systemd/import-pubring.gpg`);
    expect(result.stderr).toContain('no passphrase');
    // It signs in batch mode without a pinentry: the way kiln build signs.
    const signed = spawnSync('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'error', '--local-user', fingerprint, '--detach-sign', '--output', '-'], {
      env: { ...process.env, GNUPGHOME: keyring },
      input: 'data',
    });
    expect(signed.status, signed.stderr.toString()).toBe(0);
    expect(gpg(keyring, ['--with-colons', '--list-secret-keys', fingerprint])).toContain('uid:u::::');
  });

  it('refuses a second key with the same user ID, and an unnamed one beside it', async () => {
    const keyring = path.join(home, 'twice');
    const first = await kiln(['genkey', 'Kiln CI <ci@localhost>'], { env: { GNUPGHOME: keyring } });
    expect(first.status).toBe(0);
    const fingerprint = first.stdout.trim();

    const again = await kiln(['genkey', 'Kiln CI <ci@localhost>'], { env: { GNUPGHOME: keyring } });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`kiln: error: a gpg key for "Kiln CI <ci@localhost>" already exists in ${keyring}: ${fingerprint}\n`);

    const unnamed = await kiln(['genkey'], { env: { GNUPGHOME: keyring } });
    expect(unnamed.status).toBe(1);
    expect(unnamed.stderr).toContain(`kiln: error: ${keyring} already has a gpg secret key: ${fingerprint} (Kiln CI <ci@localhost>)\n`);

    const fingerprints = gpg(keyring, ['--with-colons', '--list-secret-keys']).match(/^sec:/gm) ?? [];
    expect(fingerprints).toHaveLength(1);
  });
});
