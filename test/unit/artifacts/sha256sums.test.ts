import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSha256Sums } from '../../../src/artifacts/sidecars.js';
import { parseSha256Sums, sha256OfFile, unlistedSidecars } from '../../../src/artifacts/verify.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('formatSha256Sums', () => {
  it('writes "<hash> *<name>" lines, one per file, in the given order', () => {
    expect(formatSha256Sums([{ name: 'image.tar.xz', sha256: A }, { name: 'image.nspawn', sha256: B }])).toBe(`${A} *image.tar.xz\n${B} *image.nspawn\n`);
  });

  it('is what sha256sum -c accepts', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-sums-'));
    try {
      const files = { 'image.tar.xz': 'not really an image\n', 'image.nspawn': '[Exec]\nBoot=yes\n' };
      const entries = Object.entries(files).map(([name, text]) => {
        writeFileSync(path.join(dir, name), text);
        return { name, sha256: createHash('sha256').update(text).digest('hex') };
      });
      writeFileSync(path.join(dir, 'SHA256SUMS'), formatSha256Sums(entries));
      const result = spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
      expect(result.stdout).toBe('image.tar.xz: OK\nimage.nspawn: OK\n');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseSha256Sums', () => {
  it('reads back what formatSha256Sums writes', () => {
    const entries = [{ name: 'image.raw.xz', sha256: A }, { name: 'image.nspawn', sha256: B }];
    expect(parseSha256Sums(formatSha256Sums(entries))).toEqual({
      entries: [
        { name: 'image.raw.xz', sha256: A, line: 1 },
        { name: 'image.nspawn', sha256: B, line: 2 },
      ],
      problems: [],
    });
  });

  it('accepts the text form of sha256sum and upper-case hex, as systemd-pull does', () => {
    expect(parseSha256Sums(`${A.toUpperCase()}  image.tar.xz\r\n\n`).entries).toEqual([{ name: 'image.tar.xz', sha256: A, line: 1 }]);
  });

  it('reports each bad line with its number', () => {
    const text = [`${A} *ok`, 'garbage', `${A.slice(1)} *short-hash`, `${A} *../etc/passwd`, `${A} *sub/dir`, `${B} *ok`].join('\n');
    expect(parseSha256Sums(text).problems).toEqual([
      'SHA256SUMS line 2: not a "<sha256> *<file>" line',
      'SHA256SUMS line 3: not a "<sha256> *<file>" line',
      'SHA256SUMS line 4: "../etc/passwd" is not a file name in this directory',
      'SHA256SUMS line 5: "sub/dir" is not a file name in this directory',
      'SHA256SUMS line 6: ok is listed twice',
    ]);
  });
});

describe('unlistedSidecars', () => {
  it('finds the files systemd-pull fetches beside a listed image but SHA256SUMS leaves out', () => {
    const present = new Set(['image.tar.xz', 'image.nspawn', 'image.tar.xz.manifest', 'SHA256SUMS', 'other.nspawn']);
    expect(unlistedSidecars(['image.tar.xz'], present)).toEqual([{ sidecar: 'image.nspawn', image: 'image.tar.xz' }]);
    expect(unlistedSidecars(['image.tar.xz', 'image.nspawn'], present)).toEqual([]);
  });

  it('pairs a raw image with its .nspawn, .roothash and .verity, as systemd names them', () => {
    const present = new Set(['image.raw.xz', 'image.nspawn', 'image.roothash', 'image.verity']);
    expect(unlistedSidecars(['image.raw.xz', 'image.roothash'], present).map((found) => found.sidecar)).toEqual(['image.nspawn', 'image.verity']);
  });
});

describe('sha256OfFile', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('hashes a file larger than one read chunk like sha256sum does', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-hash-'));
    const file = path.join(dir, 'data');
    writeFileSync(file, Buffer.alloc(3 * 65536 + 17, 7));
    const expected = spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(await sha256OfFile(file)).toBe(expected);
  });
});
