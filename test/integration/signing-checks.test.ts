/**
 * Sign=yes fails before the build starts when gpg cannot sign (no key, a key that needs a passphrase,
 * no keyring): no workspace, no output, seconds instead of a build. And `kiln genkey USER-ID` makes a
 * gpg key that signs without asking, and refuses to make a confusing second one; plain `kiln genkey`
 * makes the Secure Boot key pair, as mkosi 14's does. Real gpg and openssl, temporary keyrings and
 * projects; no build runs here.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN, kiln, makeProject, TEST_CACHE, whyNotRoot, workspacesIn, type KilnResult } from './helpers/kiln.js';
import { removeGnupgHome } from './helpers/pull.js';

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
describe.skipIf(skip)('Sign=yes with a key gpg cannot use', () => {
  let home: string;
  let project: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-'));
    gpg(home, ['--pinentry-mode', 'loopback', '--passphrase', 'correct horse', '--quick-generate-key', 'Locked <locked@localhost>', 'ed25519', 'sign', 'never']);
    project = makeProject('debian-minimal');
  });

  afterAll(async () => {
    rmSync(project, { recursive: true, force: true });
    expect(await removeGnupgHome(home)).toEqual([]);
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

  afterAll(async () => {
    const left = await Promise.all(readdirSync(home).map((keyring) => removeGnupgHome(path.join(home, keyring))));
    rmSync(home, { recursive: true, force: true });
    expect(left.flat()).toEqual([]);
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

  it('refuses a second key with the same user ID; without a user ID it makes no gpg key at all', async () => {
    const keyring = path.join(home, 'twice');
    const first = await kiln(['genkey', 'Kiln CI <ci@localhost>'], { env: { GNUPGHOME: keyring } });
    expect(first.status).toBe(0);
    const fingerprint = first.stdout.trim();

    const again = await kiln(['genkey', 'Kiln CI <ci@localhost>'], { env: { GNUPGHOME: keyring } });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`kiln: error: a gpg key for "Kiln CI <ci@localhost>" already exists in ${keyring}: ${fingerprint}\n`);

    const project = makeProject();
    try {
      expect((await kiln(['genkey'], { cwd: project, env: { GNUPGHOME: keyring } })).status).toBe(0);
      expect(readdirSync(project).sort()).toEqual(['mkosi.secure-boot.crt', 'mkosi.secure-boot.key']);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
    const fingerprints = gpg(keyring, ['--with-colons', '--list-secret-keys']).match(/^sec:/gm) ?? [];
    expect(fingerprints).toHaveLength(1);
  });
});

describe.skipIf(whyNotRoot(['openssl']))('kiln genkey: the Secure Boot key and certificate, as mkosi 14', () => {
  let project: string;

  beforeAll(() => {
    project = makeProject();
    writeFileSync(path.join(project, 'mkosi.default'), '[Distribution]\nDistribution=debian\n\n[Output]\nSecureBootValidDays=30\nSecureBootCommonName=Fleet of %u\n');
  });

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('writes mkosi.secure-boot.key (0600) and .crt beside mkosi.default, with the configured CN and validity, and keeps them without --force', async () => {
    const made = await kiln(['genkey'], { cwd: project, env: { SUDO_USER: 'alice' } });
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toBe('mkosi.secure-boot.key\nmkosi.secure-boot.crt\n');
    expect(made.stderr).toContain('Generating Secure Boot keys rsa:2048 for CN "Fleet of alice"; they expire in 30 days');
    const key = path.join(project, 'mkosi.secure-boot.key');
    const certificate = path.join(project, 'mkosi.secure-boot.crt');
    expect((statSync(key).mode & 0o777).toString(8)).toBe('600');
    const subject = execFileSync('openssl', ['x509', '-in', certificate, '-noout', '-subject', '-startdate', '-enddate'], { encoding: 'utf8' });
    expect(subject).toMatch(/^subject=CN = Fleet of alice$/m);
    const dates = Object.fromEntries(subject.split('\n').filter((l) => l.includes('After') || l.includes('Before')).map((l) => l.split('=') as [string, string]));
    expect((Date.parse(dates.notAfter!) - Date.parse(dates.notBefore!)) / 86_400_000).toBe(30);
    // The key's contents are never shown.
    const body = readFileSync(key, 'utf8').split('\n')[5]!;
    expect(made.stderr).not.toContain(body);

    const again = await kiln(['genkey'], { cwd: project });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('kiln: error: mkosi.secure-boot.key and mkosi.secure-boot.crt already exist\n');
    expect(readFileSync(key, 'utf8').split('\n')[5]).toBe(body);
    expect((await kiln(['-f', 'genkey'], { cwd: project })).status).toBe(0);
    expect(readFileSync(key, 'utf8').split('\n')[5]).not.toBe(body);
    expect(readdirSync(project).sort()).toEqual(['mkosi.default', 'mkosi.secure-boot.crt', 'mkosi.secure-boot.key']);
  });

  it('refuses a build whose key does not belong to the certificate, before anything is built', async () => {
    const other = path.join(project, 'other.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-out', other], { stdio: 'ignore' });
    const result = await kiln(['--format=gpt_ext4', '--bootable', '--secure-boot', `--secure-boot-key=${other}`, 'build'], { cwd: project });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`kiln: error: SecureBoot=yes: SecureBootKey=${other} is not the key of SecureBootCertificate=${path.join(project, 'mkosi.secure-boot.crt')}`);
    expect(workspacesIn(project)).toEqual([]);
    rmSync(other);
  });
});
