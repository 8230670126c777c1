/**
 * Issue 4's proof: a signed build of images/debian-minimal, served by `kiln serve` on 127.0.0.1, is
 * pulled by systemd-pull with --verify=signature (what `machinectl pull-tar` runs) against the test
 * key installed as systemd's import keyring, and the pulled image runs under systemd-nspawn. The
 * same pull of tampered artifacts is refused, and `kiln verify` agrees with systemd-pull each time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED, kiln, kilnOk, makeProject, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { fetchedFiles, gpg, makeSigningKey, pull, pulledImages, removeGnupgHome, removePulled, serve, type Server } from './helpers/pull.js';
import { nspawn, SYSTEMD_PULL } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', SYSTEMD_PULL, 'gpg', 'gpgv', 'unshare', 'chattr', 'gzip']);

describe.skipIf(skip)('a signed image pulled by systemd-pull', () => {
  let home: string;
  let fingerprint: string;
  let keyring: string;
  let project: string;
  let tampered: string;
  let buildLog: string;
  const pulled: string[] = [];

  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-'));
    ({ fingerprint, keyring } = await makeSigningKey(home, 'kiln pull test <pull-test@localhost>'));

    project = makeProject('debian-minimal');
    const started = performance.now();
    // gz, not the definition's xz: what is proved is the signature, and every pull below unpacks the
    // whole image (xz takes three times as long to pack and unpack it; debian.test.ts imports the xz).
    buildLog = (await kilnOk([...CACHED, '--compress-output=gz', '--sign', '--key', fingerprint, 'build'], { cwd: project, env: { GNUPGHOME: home } })).stderr;
    console.log(`signed build took ${((performance.now() - started) / 1000).toFixed(0)}s; ${/‣ Signing SHA256SUMS \([^)]*\)/.exec(buildLog)?.[0]}`);

    // A copy whose files the tests tamper with; kiln serve serves it from its own configuration.
    tampered = mkdtempSync(path.join(os.tmpdir(), 'kiln-tampered-'));
    cpSync(project, tampered, { recursive: true });
  });

  afterAll(async () => {
    for (const root of pulled) removePulled(root);
    if (project) rmSync(project, { recursive: true, force: true });
    if (tampered) rmSync(tampered, { recursive: true, force: true });
    expect(await removeGnupgHome(home)).toEqual([]);
  });

  it('writes SHA256SUMS over the image and its .nspawn, and a binary signature that gpgv accepts', () => {
    expect(buildLog).toMatch(/‣ Signing SHA256SUMS \(/);
    const sums = readFileSync(path.join(project, 'SHA256SUMS'), 'utf8');
    const expected = execFileSync('sha256sum', ['--binary', 'image.tar.gz', 'image.nspawn'], { cwd: project, encoding: 'utf8' });
    expect(sums).toBe(expected);
    const signature = readFileSync(path.join(project, 'SHA256SUMS.gpg'));
    expect(signature.subarray(0, 5).toString('latin1')).not.toBe('-----');
    const gpgv = spawnSync('gpgv', ['--keyring', keyring, path.join(project, 'SHA256SUMS.gpg'), path.join(project, 'SHA256SUMS')], { encoding: 'utf8' });
    expect(gpgv.status, gpgv.stderr).toBe(0);
    expect(workspacesIn(project)).toEqual([]);
  });

  it('passes kiln verify, against the public key alone and against the keyring it was made in', async () => {
    const withKeyring = await kiln(['verify', '--keyring', keyring], { cwd: project });
    expect(withKeyring.status, withKeyring.stderr).toBe(0);
    expect(withKeyring.stdout).toBe(
      `image.tar.gz: OK\nimage.nspawn: OK\nSHA256SUMS.gpg: good signature by ${fingerprint} (kiln pull test <pull-test@localhost>)\n`,
    );
    const withHome = await kiln(['verify', project], { env: { GNUPGHOME: home } });
    expect(withHome.status, withHome.stderr).toBe(0);
  });

  it('is pulled with its signature checked, fetching only what SHA256SUMS covers, and runs', async () => {
    const server = await serve(project);
    const result = await pull(`${server.url}/image.tar.gz`, 'kiln-signed', keyring);
    pulled.push(result.imageRoot);
    expect(await server.stop()).toBe(0);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('Signature verification succeeded.');
    expect(result.output).toContain('SHA256 checksum of http://127.0.0.1');

    // Everything systemd-pull fetched is SHA256SUMS, its signature, or a file SHA256SUMS lists.
    const listed = readFileSync(path.join(project, 'SHA256SUMS'), 'utf8').split('\n').filter(Boolean).map((line) => line.split(' *')[1]);
    expect(fetchedFiles(server)).toEqual(['SHA256SUMS', 'SHA256SUMS.gpg', ...listed].sort());

    const root = path.join(result.imageRoot, 'kiln-signed');
    expect(readFileSync(path.join(result.imageRoot, 'kiln-signed.nspawn'), 'utf8')).toBe(readFileSync(path.join(project, 'image.nspawn'), 'utf8'));
    expect(nspawn(root, ['cat', '/etc/hostname'])).toBe('debian-minimal\n');

    // The manifest lists exactly the packages dpkg knows in the pulled image.
    const manifest = JSON.parse(readFileSync(path.join(project, 'image.tar.gz.manifest'), 'utf8'));
    expect(manifest.config).toMatchObject({ name: 'image', distribution: 'debian' });
    const dpkg = nspawn(root, ['dpkg-query', '-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\n']).trim().split('\n').sort();
    const listedPackages = manifest.packages.map((p: { name: string; version: string; architecture: string; type: string }) => {
      expect(p.type).toBe('deb');
      return `${p.name}\t${p.version}\t${p.architecture}`;
    });
    expect(listedPackages.sort()).toEqual(dpkg);
  });

  describe('tampered artifacts', () => {
    let server: Server;

    beforeAll(async () => {
      server = await serve(tampered);
    });

    afterAll(async () => {
      await server.stop();
    });

    /** Puts the signed build back, then lets `change` tamper with the copy. */
    function tamper(change: () => void): void {
      for (const name of ['image.tar.gz', 'image.nspawn', 'SHA256SUMS', 'SHA256SUMS.gpg']) cpSync(path.join(project, name), path.join(tampered, name));
      change();
    }

    async function expectRefused(name: string, reason: RegExp, verifyProblem: string): Promise<void> {
      const result = await pull(`${server.url}/image.tar.gz`, name, keyring);
      pulled.push(result.imageRoot);
      expect(result.status, result.output).not.toBe(0);
      expect(result.output).toMatch(reason);
      expect(pulledImages(result.imageRoot)).toEqual([]);
      const verified = await kiln(['verify', '--keyring', keyring], { cwd: tampered });
      expect(verified.status).toBe(1);
      expect(verified.stderr).toContain(`kiln: error: ${verifyProblem}\n`);
      expect(verified.stderr).not.toMatch(/\n\s+at /);
    }

    it('refuses an image with one byte changed', async () => {
      tamper(() => {
        const file = path.join(tampered, 'image.tar.gz');
        const bytes = readFileSync(file);
        const middle = Math.floor(bytes.length / 2);
        bytes[middle] = bytes[middle]! ^ 0x01;
        writeFileSync(file, bytes);
      });
      // gzip may notice first (its own CRC), or the checksum at the end: refused either way.
      await expectRefused('kiln-flipped', /Failed to retrieve image file|did not check out|DOWNLOAD INVALID/, 'image.tar.gz: SHA-256 does not match SHA256SUMS (the file was changed)');
    });

    it('refuses changed container settings, which only the checksum can catch', async () => {
      tamper(() => writeFileSync(path.join(tampered, 'image.nspawn'), '[Exec]\nPrivateUsers=no\nCapability=all\n'));
      await expectRefused('kiln-settings', /Checksum of image\.nspawn file did not check out/, 'image.nspawn: SHA-256 does not match SHA256SUMS (the file was changed)');
    });

    it('refuses a SHA256SUMS rewritten to match the changed files', async () => {
      tamper(() => {
        writeFileSync(path.join(tampered, 'image.nspawn'), '[Exec]\nCapability=all\n');
        writeFileSync(path.join(tampered, 'SHA256SUMS'), execFileSync('sha256sum', ['--binary', 'image.tar.gz', 'image.nspawn'], { cwd: tampered }));
      });
      await expectRefused('kiln-resummed', /Signature verification failed/, 'SHA256SUMS.gpg: BAD signature: SHA256SUMS was changed after it was signed');
    });

    it('refuses a validly signed SHA256SUMS that leaves out the .nspawn: it must cover every file pulled', async () => {
      tamper(() => {
        writeFileSync(path.join(tampered, 'SHA256SUMS'), execFileSync('sha256sum', ['--binary', 'image.tar.gz'], { cwd: tampered }));
        rmSync(path.join(tampered, 'SHA256SUMS.gpg'));
        gpg(home, ['--local-user', fingerprint, '--detach-sign', '--output', path.join(tampered, 'SHA256SUMS.gpg'), path.join(tampered, 'SHA256SUMS')]);
      });
      await expectRefused(
        'kiln-unlisted',
        /Checksum of image\.nspawn file did not check out/,
        'image.nspawn: not listed in SHA256SUMS; systemd-pull fetches it with image.tar.gz and refuses the download',
      );
    });

    it('is refused by kiln verify against a keyring without the signing key', async () => {
      tamper(() => undefined);
      const other = mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-other-'));
      try {
        expect((await kiln(['genkey', 'someone else <other@localhost>'], { env: { GNUPGHOME: other } })).status).toBe(0);
        const otherKeyring = path.join(other, 'pub.gpg');
        writeFileSync(otherKeyring, gpg(other, ['--export']));
        const verified = await kiln(['verify', '--keyring', otherKeyring], { cwd: tampered });
        expect(verified.status).toBe(1);
        expect(verified.stderr).toMatch(new RegExp(`kiln: error: SHA256SUMS.gpg: signed by key ${fingerprint.slice(-16)}, which is not in .*pub\\.gpg\\n`));
        expect(existsSync(path.join(tampered, 'SHA256SUMS.gpg'))).toBe(true);
      } finally {
        spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: other } });
        rmSync(other, { recursive: true, force: true });
      }
    });
  });
});
