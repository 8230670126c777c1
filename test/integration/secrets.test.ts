/**
 * Issue 20's proof. One signed tar build of images/debian-minimal (from the shared cached root)
 * with every kind of secret in its directory — mkosi.rootpw, mkosi.passphrase, Secure Boot key and certificate, an ssh key, and the
 * gpg signing key's own GNUPGHOME — each carrying a random marker:
 * - the audit: no marker turns up in the artifacts (inside the tarball too), the manifest, the
 *   --debug=run log, summary, or any command line — every execve of the build, traced with strace,
 *   and /proc/PID/cmdline of every process on the machine, sampled while the build runs;
 * - `kiln serve` on 127.0.0.1 hands out the artifacts byte for byte and answers 404 to every
 *   secret and configuration file in every spelling, keeps up with hundreds of concurrent requests,
 *   and systemd-pull still pulls and verifies the image.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawGet, spellings } from './helpers/http.js';
import { CACHED, KILN, kiln, makeProject, processesMentioning, runAsync, whyNotRoot, workspacesIn } from './helpers/kiln.js';
import { makeSigningKey, pull, removeGnupgHome, removePulled, serve, type Server } from './helpers/pull.js';
import { gpgSecretMarkers, markersInFile, markersInStream, markersInText, newMarker, sampleCommandLines, type Marker } from './helpers/secrets.js';
import { SYSTEMD_PULL } from './helpers/systemd.js';

const skip = whyNotRoot(['mmdebstrap', 'systemd-nspawn', SYSTEMD_PULL, 'gpg', 'unshare', 'chattr', 'strace', 'openssl', 'tar']);

/**
 * The secret files of an image directory. Those kiln does not build with yet (Encrypt=, SecureBoot=,
 * Ssh=) only sit in the directory; when a setting that reads one lands, add its options to
 * BUILD_OPTIONS (or build a second image here if it needs another format) and the audit covers it.
 */
const SECRET_FILES: readonly { file: string; content: (marker: string) => string }[] = [
  { file: 'mkosi.rootpw', content: (marker) => `${marker}\n` },
  { file: 'mkosi.passphrase', content: (marker) => `${marker}\n` },
  { file: 'mkosi.secure-boot.key', content: (marker) => `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----\n` },
  { file: 'mkosi.secure-boot.crt', content: (marker) => `-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----\n` },
  { file: 'mkosi.rootkey', content: (marker) => `${marker}\n` },
  { file: 'id_rsa', content: (marker) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${marker}\n-----END OPENSSH PRIVATE KEY-----\n` },
];

/** The image definition's own files, which are not secret but not the server's to hand out either. */
const CONFIGURATION_FILES = ['mkosi.default', 'mkosi.postinst', 'mkosi.nspawn', 'mkosi.extra/etc/motd', 'mkosi.skeleton/etc/apt/apt.conf.d/90no-recommends', 'mkosi.extra', 'gnupg/pubring.kbx'];

// From the cached root that every CACHED build of images/debian-minimal shares (made once per
// suite): no secret shapes the bootstrap, which gets the package list and the mirror only, and
// every stage that reads one still runs here (password, postinst in nspawn, tarball, signing).
// Whether this build or another made the root, the trace shows which (mmdebstrap or the copy).
const BUILD_OPTIONS = ['--debug=run', ...CACHED, '--compress-output=gz', '--sign'];
const OUTPUTS = ['SHA256SUMS', 'SHA256SUMS.gpg', 'image.nspawn', 'image.tar.gz', 'image.tar.gz.manifest'];

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe.skipIf(skip)('secrets: never in artifacts, logs or command lines, never served', () => {
  let project: string;
  let home: string;
  let fingerprint: string;
  let keyring: string;
  const markers: Marker[] = [];
  let build: { status: number | null; stdout: string; stderr: string };
  let trace: string;
  let sampled: { lines: Set<string>; rounds: number };
  let server: Server | undefined;
  const pulled: string[] = [];

  beforeAll(async () => {
    project = makeProject('debian-minimal');
    for (const secret of SECRET_FILES) {
      const marker = newMarker();
      writeFileSync(path.join(project, secret.file), secret.content(marker), { mode: 0o600 });
      markers.push({ what: secret.file, bytes: Buffer.from(marker) });
    }
    // The signing keyring inside the image directory: a careless but real set-up.
    home = path.join(project, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    ({ fingerprint, keyring } = await makeSigningKey(home, 'kiln secrets test <secrets-test@localhost>'));
    markers.push(...(await gpgSecretMarkers(home)));

    const traceFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'kiln-trace-')), 'execve');
    const sampler = sampleCommandLines();
    const started = performance.now();
    // Every execve of kiln and all it starts (inside nspawn too), with full argument lists.
    build = await runAsync(['strace', '-f', '-qq', '--seccomp-bpf', '-e', 'trace=execve', '-v', '-s', '65536', '-o', traceFile, KILN, ...BUILD_OPTIONS, '--key', fingerprint, 'build'], {
      cwd: project,
      env: { GNUPGHOME: home },
    });
    sampled = await sampler.stop();
    const steps = build.stderr.split('\n').filter((line) => line.startsWith('‣ '));
    console.log(`traced build took ${((performance.now() - started) / 1000).toFixed(0)}s (${steps.join('; ')}); ${sampled.rounds} rounds of /proc sampled, ${sampled.lines.size} distinct command lines`);
    trace = readFileSync(traceFile, 'utf8');
    rmSync(path.dirname(traceFile), { recursive: true, force: true });
  });

  afterAll(async () => {
    await server?.stop();
    for (const root of pulled) removePulled(root);
    if (home) expect(await removeGnupgHome(home)).toEqual([]);
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('builds, using mkosi.rootpw for root without writing it down', () => {
    expect(build.status, build.stderr).toBe(0);
    expect(workspacesIn(project)).toEqual([]);
    // The root password is in the image as a SHA-512 crypt hash of the marker, and only so.
    const shadow = execFileSync('tar', ['-xzOf', path.join(project, 'image.tar.gz'), '--wildcards', '*etc/shadow'], { encoding: 'utf8' });
    const hash = /^root:([^:]*):/m.exec(shadow)?.[1] ?? '';
    const salt = /^\$6\$([^$]+)\$/.exec(hash)?.[1];
    expect(salt, shadow.split('\n')[0]).toBeDefined();
    const password = readFileSync(path.join(project, 'mkosi.rootpw'), 'utf8').trim();
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', salt!, '-stdin'], { input: password, encoding: 'utf8' }).trim()).toBe(hash);
  });

  it('traced and sampled the whole build, so that the checks below can fail', () => {
    // The root came from the bootstrap, or from the cache (an overlay mount of it, or a copy).
    const bootstrapped = /^‣ Installing packages \(/m.test(build.stderr);
    if (!bootstrapped) expect(build.stderr).toMatch(/^‣ Using the cached root [0-9a-f]{16}/m);
    const root = bootstrapped ? 'mmdebstrap' : 'mount|cp';
    for (const program of [root, 'systemd-nspawn', 'gpg', 'gzip|pigz']) expect(trace).toMatch(new RegExp(`execve\\("[^"]*/(${program})"`));
    expect(trace).toContain('--debug=run');
    expect([...sampled.lines].some((line) => line.includes('systemd-nspawn'))).toBe(true);
    expect(build.stderr).toMatch(/^ {2}\$ /m);
  });

  it('writes no secret into the log, a command line or summary', async () => {
    expect(markersInText(build.stdout + build.stderr, markers), 'the --debug=run log').toEqual([]);
    expect(markersInText(trace, markers), 'the traced execve calls').toEqual([]);
    expect(markersInText([...sampled.lines].join('\n'), markers), 'the sampled /proc/PID/cmdline').toEqual([]);
    for (const args of [['summary'], ['--json', 'summary']]) {
      const summary = await kiln(args, { cwd: project, env: { GNUPGHOME: home } });
      expect(summary.status, summary.stderr).toBe(0);
      expect(markersInText(summary.stdout + summary.stderr, markers), args.join(' ')).toEqual([]);
    }
  });

  it('writes no secret into an artifact, inside the tarball either', async () => {
    for (const name of OUTPUTS) expect(await markersInFile(path.join(project, name), markers), name).toEqual([]);
    const tar = createReadStream(path.join(project, 'image.tar.gz')).pipe(createGunzip());
    expect(await markersInStream(tar, markers), 'the tar stream').toEqual([]);
    // The check does find a marker where there is one.
    expect(await markersInFile(path.join(project, 'mkosi.rootpw'), markers)).toEqual(['mkosi.rootpw']);
  });

  describe('kiln serve', () => {
    const commandLineMarker = newMarker();

    beforeAll(async () => {
      if (build.status !== 0) throw new Error('the build failed');
      // Served without the options of the build (--sign, --compress-output=gz): SHA256SUMS says what
      // the last build wrote. A password given on kiln's command line is rewritten out of it.
      server = await serve(project, [`--password=${commandLineMarker}`]);
    });

    it('says what it serves, and hides a --password from other users', () => {
      expect(server!.log()).toContain(`Serving ${OUTPUTS.join(', ')} from `);
      expect(server!.log()).toContain('kiln: warning: --password on the command line can be read by other users');
      expect(processesMentioning(commandLineMarker)).toEqual([]);
      expect(readFileSync(`/proc/${server!.pid}/cmdline`, 'latin1')).toContain('--password=*');
    });

    it('lists the artifacts, and serves each byte for byte', async () => {
      const listing = await fetch(`${server!.url}/`);
      expect((await listing.text()).split('\n').filter(Boolean)).toEqual(OUTPUTS);
      for (const name of OUTPUTS) {
        const response = await fetch(`${server!.url}/${name}`);
        expect(response.status, name).toBe(200);
        expect(sha256(Buffer.from(await response.arrayBuffer())), name).toBe(sha256(readFileSync(path.join(project, name))));
      }
    });

    it('answers 404 to every secret and configuration file, whatever the spelling', async () => {
      const port = Number(new URL(server!.url).port);
      const workspace = '.kiln-build-x/root/etc/shadow';
      const keyFiles = readdirSync(path.join(home, 'private-keys-v1.d')).map((file) => `gnupg/private-keys-v1.d/${file}`);
      const targets = [...SECRET_FILES.map((secret) => secret.file), ...CONFIGURATION_FILES, ...keyFiles, workspace];
      let asked = 0;
      for (const target of targets) {
        for (const spelling of spellings(target)) {
          const response = await rawGet(port, spelling);
          expect(response.status, spelling).toBe(404);
          expect(markersInText(response.body, markers), spelling).toEqual([]);
          asked++;
        }
      }
      expect(asked).toBeGreaterThan(200);
    });

    it('answers a few hundred concurrent requests, all of them right', async () => {
      const expected = new Map(OUTPUTS.map((name) => [name, sha256(readFileSync(path.join(project, name)))]));
      const small = OUTPUTS.filter((name) => name !== 'image.tar.gz');
      const requests: Promise<string>[] = [];
      for (let i = 0; i < 320; i++) {
        if (i % 20 === 0) {
          // 16 whole images at once.
          requests.push(fetch(`${server!.url}/image.tar.gz`).then(async (r) => `${r.status} ${sha256(Buffer.from(await r.arrayBuffer())) === expected.get('image.tar.gz')}`));
        } else if (i % 7 === 0) {
          requests.push(fetch(`${server!.url}/${SECRET_FILES[i % SECRET_FILES.length]!.file}`).then(async (r) => `${r.status} ${markersInText(await r.text(), markers).length === 0}`));
        } else {
          const name = small[i % small.length]!;
          requests.push(fetch(`${server!.url}/${name}`).then(async (r) => `${r.status} ${sha256(Buffer.from(await r.arrayBuffer())) === expected.get(name)}`));
        }
      }
      const results = await Promise.all(requests);
      const secrets = results.filter((_, i) => i % 20 !== 0 && i % 7 === 0);
      expect(secrets.every((result) => result === '404 true')).toBe(true);
      expect(results.filter((result, i) => !(i % 20 !== 0 && i % 7 === 0) && result !== '200 true')).toEqual([]);
    });

    it('is pulled by systemd-pull with its signature checked', async () => {
      // A server of its own: the log lines of the requests above reach this process asynchronously,
      // so only a fresh log tells what systemd-pull asked for.
      const own = await serve(project);
      try {
        const result = await pull(`${own.url}/image.tar.gz`, `kiln-secrets-${process.pid}`, keyring);
        pulled.push(result.imageRoot);
        expect(result.status, result.output).toBe(0);
        expect(result.output).toContain('Signature verification succeeded.');
      } finally {
        expect(await own.stop()).toBe(0);
      }
      // systemd-pull fetched the image, its .nspawn and the signed SHA256SUMS over them, nothing else.
      const fetched = own.requests().filter((line) => line.endsWith(' 200')).map((line) => line.split(' ')[1]);
      expect(fetched.sort()).toEqual(['/SHA256SUMS', '/SHA256SUMS.gpg', '/image.nspawn', '/image.tar.gz']);
    });

    it('stops cleanly', async () => {
      expect(await server!.stop()).toBe(0);
      expect(server!.log()).toContain('stopped serving\n');
      expect(markersInText(server!.log(), markers)).toEqual([]);
    });
  });
});
