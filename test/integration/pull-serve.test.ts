/**
 * `kiln serve` (the real CLI) serves the output directory read-only: files, byte for byte; nothing
 * hidden, nothing outside (.., encoded .., symlinks), no listings, only GET and HEAD; and it stops
 * cleanly on SIGTERM. Requests are also sent raw, because HTTP clients clean up ".." themselves.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN } from './helpers/kiln.js';

/** Sends one raw HTTP/1.0 request and returns the status code and body. */
function rawRequest(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // write(), not end(): a half-closed connection makes node's server drop the answer.
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(data.split(' ')[1]), body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
  });
}

describe('kiln serve', () => {
  let base: string;
  let project: string;
  let child: ChildProcessWithoutNullStreams;
  let port: number;
  let stderr = '';

  beforeAll(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'kiln-serve-'));
    project = path.join(base, 'project');
    mkdirSync(path.join(project, '.kiln-build-abc/root/etc'), { recursive: true });
    mkdirSync(path.join(project, 'sub'));
    writeFileSync(path.join(project, 'mkosi.default'), '[Distribution]\nDistribution=debian\n[Output]\nFormat=tar\n');
    writeFileSync(path.join(project, 'image.tar.xz'), Buffer.from([0, 1, 2, 250, 251, 10, 13]));
    writeFileSync(path.join(project, 'SHA256SUMS'), 'sums\n');
    writeFileSync(path.join(project, 'sub/file'), 'in a subdirectory\n');
    writeFileSync(path.join(project, '.kiln-build-abc/root/etc/shadow'), 'root:secret\n');
    writeFileSync(path.join(base, 'outside'), 'not for the web\n');
    symlinkSync('../outside', path.join(project, 'link-out'));
    symlinkSync('/etc/hostname', path.join(project, 'link-abs'));
    symlinkSync('image.tar.xz', path.join(project, 'link-in'));

    child = spawn(KILN, ['serve', '127.0.0.1:0'], { cwd: project, stdio: ['pipe', 'pipe', 'pipe'] });
    port = await new Promise<number>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const match = /on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
        if (match) resolve(Number(match[1]));
      });
      child.on('exit', (code) => reject(new Error(`kiln serve exited with ${code}: ${stderr}`)));
    });
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  });

  it('serves the files of the output directory byte for byte', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/image.tar.xz`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 250, 251, 10, 13]));
    expect(response.headers.get('content-length')).toBe('7');
    expect(await (await fetch(`http://127.0.0.1:${port}/sub/file`)).text()).toBe('in a subdirectory\n');
    expect((await fetch(`http://127.0.0.1:${port}/link-in`)).status).toBe(200);
    const head = await fetch(`http://127.0.0.1:${port}/SHA256SUMS`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '5']);
  });

  it('refuses paths that leave the directory, hidden files, listings and missing files', async () => {
    for (const target of ['/../outside', '/%2e%2e/outside', '/..%2foutside', '/sub/../../outside', '/link-out', '/link-abs', '/.kiln-build-abc/root/etc/shadow', '/', '/sub', '/sub/', '/missing']) {
      const response = await rawRequest(port, `GET ${target} HTTP/1.0\r\n\r\n`);
      expect(response.status, target).toBe(404);
      expect(response.body, target).not.toMatch(/not for the web|secret/);
    }
  });

  it('is read-only', async () => {
    for (const method of ['PUT', 'POST', 'DELETE']) {
      expect((await fetch(`http://127.0.0.1:${port}/image.tar.xz`, { method, body: method === 'DELETE' ? undefined : 'x' })).status).toBe(405);
    }
    expect((await fetch(`http://127.0.0.1:${port}/image.tar.xz`)).status).toBe(200);
  });

  it('logs each request and stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('GET /image.tar.xz 200\n');
    expect(stderr).toContain('GET /link-out 404\n');
    expect(stderr).toContain('PUT /image.tar.xz 405\n');
    expect(stderr).toContain('stopped serving\n');
  });
});
