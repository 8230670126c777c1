/**
 * `kiln serve` (the real CLI, without a build: the outputs are made up here) serves exactly the
 * outputs of the last build — the names the configuration produces, and SHA256SUMS, its signature
 * and the images it lists with their sidecars —
 * and nothing else of its directory: not the configuration, not its secrets, not a running
 * build's workspace, not a produced name that is a symlink, a FIFO or a directory. Requests are
 * sent raw, because HTTP clients clean up ".." and "%2e" themselves.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawGet, rawRequest, spellings } from './helpers/http.js';
import { kiln, processesMentioning } from './helpers/kiln.js';
import { serve, type Server } from './helpers/pull.js';

const IMAGE = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
const SECRETS = ['mkosi.rootpw', 'mkosi.passphrase', 'mkosi.secure-boot.key', 'mkosi.secure-boot.crt', 'id_rsa'];
const NOT_SERVED = [
  ...SECRETS,
  'mkosi.default',
  'mkosi.postinst',
  'mkosi.extra/etc/motd',
  '.kiln-build-abc/root/etc/shadow',
  // Produced names that are not regular files: a symlink out of the directory, a FIFO.
  'image.tar.xz.manifest',
  'SHA256SUMS.gpg',
  // Listed in a hand-edited SHA256SUMS, but an input or hidden.
  '.hidden',
  'random.file',
  'random.tar',
];

describe('kiln serve', () => {
  let base: string;
  let project: string;
  let server: Server;

  beforeAll(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'kiln-serve-'));
    project = path.join(base, 'project');
    mkdirSync(path.join(project, '.kiln-build-abc/root/etc'), { recursive: true });
    mkdirSync(path.join(project, 'mkosi.extra/etc'), { recursive: true });
    writeFileSync(path.join(project, 'mkosi.default'), '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n[Validation]\nChecksum=yes\nSign=yes\n');
    writeFileSync(path.join(project, 'mkosi.postinst'), '#!/bin/sh\n');
    writeFileSync(path.join(project, 'mkosi.nspawn'), '[Exec]\nPrivateUsers=pick\n');
    writeFileSync(path.join(project, 'mkosi.extra/etc/motd'), 'hello\n');
    for (const secret of SECRETS) writeFileSync(path.join(project, secret), 'top secret\n', { mode: 0o600 });
    writeFileSync(path.join(project, '.kiln-build-abc/root/etc/shadow'), 'root:top secret\n');
    writeFileSync(path.join(project, 'image.tar.xz'), IMAGE);
    writeFileSync(path.join(project, 'image.nspawn'), '[Exec]\nPrivateUsers=pick\n');
    // An image of the configuration before the last change (another Output=), still listed, with
    // its sidecar.
    writeFileSync(path.join(project, 'old.tar.xz'), 'the previous image\n');
    writeFileSync(path.join(project, 'old.nspawn'), '[Exec]\n');
    writeFileSync(path.join(project, 'random.file'), 'not an output\n');
    // Listed, with an image suffix, but a key file of the configuration (--secure-boot-key below).
    writeFileSync(path.join(project, 'random.tar'), 'top secret\n');
    const sum = (name: string): string => `${'0'.repeat(64)} *${name}\n`;
    writeFileSync(path.join(project, 'SHA256SUMS'), ['image.tar.xz', 'image.nspawn', 'old.tar.xz', 'old.nspawn', 'mkosi.rootpw', 'mkosi.secure-boot.key', '.hidden', 'id_rsa', 'random.file', 'random.tar', '../outside'].map(sum).join(''));
    writeFileSync(path.join(project, '.hidden'), 'top secret\n');
    spawnSync('mkfifo', [path.join(project, 'SHA256SUMS.gpg')]);
    writeFileSync(path.join(base, 'outside'), 'top secret\n');
    symlinkSync('../outside', path.join(project, 'image.tar.xz.manifest'));
    server = await serve(project, ['--secure-boot-key', path.join(project, 'random.tar')]);
  });

  afterAll(async () => {
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('says what it serves and where, in one line', () => {
    const line = server.log().split('\n').find((l) => l.startsWith('Serving '));
    expect(line).toBe(`Serving SHA256SUMS, image.nspawn, image.tar.xz, old.nspawn, old.tar.xz from ${project} on ${server.url}/ (Ctrl-C stops)`);
  });

  it('lists the served files at /, as text and as a page', async () => {
    expect(await (await fetch(`${server.url}/`)).text()).toBe('SHA256SUMS\nimage.nspawn\nimage.tar.xz\nold.nspawn\nold.tar.xz\n');
    const page = await (await fetch(`${server.url}/`, { headers: { Accept: 'text/html' } })).text();
    expect(page).toContain('<a href="image.tar.xz">image.tar.xz</a> (300000 bytes)');
    expect(page).not.toMatch(/mkosi|secret/);
  });

  it('serves the outputs byte for byte, with GET and HEAD', async () => {
    const response = await fetch(`${server.url}/image.tar.xz`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(IMAGE)).toBe(true);
    for (const name of ['SHA256SUMS', 'image.nspawn', 'old.tar.xz', 'old.nspawn']) {
      expect(await (await fetch(`${server.url}/${name}`)).text(), name).toBe(readFileSync(path.join(project, name), 'utf8'));
    }
    const head = await fetch(`${server.url}/image.tar.xz`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '300000']);
    // Percent-encoding is decoded once; a query is ignored.
    expect((await rawGet(Number(new URL(server.url).port), '/image%2Etar%2exz?x=1')).status).toBe(200);
  });

  it('answers 404 to everything else, in every spelling', async () => {
    const port = Number(new URL(server.url).port);
    for (const name of NOT_SERVED) {
      for (const spelling of spellings(name)) {
        const response = await rawGet(port, spelling);
        expect(response.status, spelling).toBe(404);
        expect(response.body, spelling).not.toMatch(/secret/);
      }
    }
    for (const spelling of ['/IMAGE.TAR.XZ', '/./image.tar.xz', '//image.tar.xz', '/image.tar.xz/', '/x/../image.tar.xz', '/image.tar.xz%00', '/../outside', '/..%2foutside', '/%2e%2e/outside', '/mkosi.extra', '/.kiln-build-abc']) {
      expect((await rawGet(port, spelling)).status, spelling).toBe(404);
    }
  });

  it('refuses a NUL or a control character in the request itself, answering nothing', async () => {
    const port = Number(new URL(server.url).port);
    for (const target of ['/mkosi.rootpw\0', '/image.tar.xz\0/../mkosi.rootpw', '/mkosi.rootpw\x01']) {
      const response = await rawRequest(port, Buffer.from(`GET ${target} HTTP/1.0\r\n\r\n`, 'latin1'));
      expect(response.status, JSON.stringify(target)).toBe(400);
      expect(response.body).not.toMatch(/secret/);
    }
  });

  it('is read-only', async () => {
    for (const method of ['PUT', 'POST', 'DELETE']) {
      expect((await fetch(`${server.url}/image.tar.xz`, { method, body: method === 'DELETE' ? undefined : 'x' })).status).toBe(405);
    }
    expect(readFileSync(path.join(project, 'image.tar.xz')).equals(IMAGE)).toBe(true);
  });

  it('without SHA256SUMS (Checksum=no) serves what the configuration produces, not what lies beside it', async () => {
    const plain = mkdtempSync(path.join(base, 'plain-'));
    writeFileSync(path.join(plain, 'mkosi.default'), '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n');
    writeFileSync(path.join(plain, 'mkosi.nspawn'), '[Exec]\n');
    for (const name of ['image.tar.xz', 'image.nspawn', 'image.tar.xz.manifest', 'old.tar.xz', 'image.raw', 'mkosi.rootpw']) writeFileSync(path.join(plain, name), `${name}\n`);
    const server = await serve(plain, ['--checksum=no']);
    try {
      expect(await (await fetch(`${server.url}/`)).text()).toBe('image.nspawn\nimage.tar.xz\nimage.tar.xz.manifest\n');
      for (const name of ['old.tar.xz', 'image.raw', 'mkosi.rootpw', 'mkosi.default']) expect((await fetch(`${server.url}/${name}`)).status, name).toBe(404);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('hides a --password given on its command line from other users', async () => {
    const marker = `kilnleak${process.pid}x${Date.now()}`;
    const withPassword = await serve(project, [`--password=${marker}`]);
    try {
      expect(processesMentioning(marker)).toEqual([]);
      expect(withPassword.log()).toContain('kiln: warning: --password on the command line can be read by other users (ps) until kiln starts');
    } finally {
      await withPassword.stop();
    }
  });

  it('refuses to start with nothing to serve', async () => {
    const empty = mkdtempSync(path.join(base, 'empty-'));
    writeFileSync(path.join(empty, 'mkosi.default'), '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n');
    writeFileSync(path.join(empty, 'mkosi.rootpw'), 'top secret\n', { mode: 0o600 });
    const result = await kiln(['serve', '127.0.0.1:0'], { cwd: empty });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kiln: error: kiln serve: nothing to serve in \S+: image\.tar\.xz has not been built\n/);
  });

  it('logs each request and stops cleanly on SIGTERM', async () => {
    expect(await server.stop()).toBe(0);
    const log = server.log();
    expect(log).toContain('GET /image.tar.xz 200\n');
    expect(log).toContain('GET /mkosi.rootpw 404\n');
    expect(log).toContain('PUT /image.tar.xz 405\n');
    expect(log).toContain('stopped serving\n');
  });
});
