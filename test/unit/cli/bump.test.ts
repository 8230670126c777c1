/**
 * `kiln bump`: the next version as mkosi 14 computes it (compared with mkosi 14's own
 * bump_image_version() where its Python module is installed, as .ci/run installs it), written to
 * mkosi.version where the next build reads it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nextVersion } from '../../../src/verbs/bump.js';
import { ensureCompiled } from '../../compat/compiled.js';
import { REPO } from '../../compat/corpus.js';

const KILN = path.join(REPO, 'bin/kiln');

/** Each current version with what mkosi 14 writes after it. */
const CASES: readonly (readonly [string | null, string])[] = [
  [null, '1'],
  ['', '1'],
  ['1.2', '1.3'],
  ['41', '42'],
  ['1.9', '1.10'],
  ['2023.05.007', '2023.05.8'],
  ['1.x', '1.x.2'],
  ['v1_0', 'v1_0.2'],
  ['.', '..2'],
  ['2.0 ', '2.1'],
  ['1.-3', '1.-2'],
  ['1.+7', '1.8'],
  ['1.1_000', '1.1001'],
  ['1._1', '1._1.2'],
  ['1.٣', '1.4'],
  ['1.99999999999999999999', '1.100000000000000000000'],
];

/** mkosi 14's bump_image_version() on `current`, or why it cannot run here. */
function mkosiBump(current: string | null): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-mkosi-bump-'));
  try {
    const program = 'import sys, types\nfrom mkosi import bump_image_version\nbump_image_version(types.SimpleNamespace(image_version=None if sys.argv[1] == "-" else sys.argv[1]))';
    execFileSync('/usr/bin/python3', ['-c', program, current ?? '-'], { cwd: dir, stdio: 'pipe' });
    return readFileSync(path.join(dir, 'mkosi.version'), 'utf8').trimEnd();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noMkosi = spawnSync('/usr/bin/python3', ['-c', 'import mkosi'], { stdio: 'pipe' }).status === 0 ? undefined : 'mkosi 14 (Debian package mkosi) is not installed';

describe('kiln bump: the next version', () => {
  it.each(CASES)('after %j comes %j', (current, next) => {
    expect(nextVersion(current).version).toBe(next);
  });

  it.skipIf(noMkosi)('is what mkosi 14 writes, for every case above', () => {
    for (const [current] of CASES) expect(nextVersion(current).version, JSON.stringify(current)).toBe(mkosiBump(current));
  });
});

describe('kiln bump on the command line', () => {
  let dir: string;
  beforeAll(() => ensureCompiled());
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kiln = (argv: string[]) => spawnSync(KILN, argv, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const project = (files: Record<string, string>): void => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-bump-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  };
  const summary = (): { ImageVersion: string | null } => JSON.parse(kiln(['summary', '--json']).stdout) as { ImageVersion: string | null };

  it('writes mkosi.version, which the next command reads, and says what it did', () => {
    project({ 'mkosi.default': '[Distribution]\nDistribution=debian\n' });
    expect(summary().ImageVersion).toBeNull();
    const first = kiln(['bump']);
    expect(first.stderr).toBe('No version configured so far, starting with version 1.\n');
    expect(first.status).toBe(0);
    expect(readFileSync(path.join(dir, 'mkosi.version'), 'utf8')).toBe('1\n');
    expect(kiln(['bump']).stderr).toBe("Increasing last component of version by one, bumping '1' → '2'.\n");
    expect(summary().ImageVersion).toBe('2');
    // Nothing else is left in the directory (the file is written whole, through a temporary one).
    expect(readdirSync(dir).sort()).toEqual(['mkosi.default', 'mkosi.version']);
  });

  it('with -C, bumps the directory\'s mkosi.version; --image-version= is the version to bump', () => {
    project({ 'mkosi.default': '[Distribution]\nDistribution=debian\n', 'mkosi.version': '0.9\n' });
    const result = spawnSync(KILN, ['-C', dir, '--image-version=3.1', 'bump'], { cwd: os.tmpdir(), encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(readFileSync(path.join(dir, 'mkosi.version'), 'utf8')).toBe('3.2\n');
  });

  it('warns when ImageVersion= in the configuration hides mkosi.version', () => {
    project({ 'mkosi.default': '[Distribution]\nDistribution=debian\n\n[Output]\nImageVersion=7\n' });
    const result = kiln(['bump']);
    expect(result.status).toBe(0);
    expect(result.stderr.split('\n')).toEqual([
      "Increasing last component of version by one, bumping '7' → '8'.",
      'kiln: warning: ImageVersion= in mkosi.default:5 comes before mkosi.version: the next build still uses 7, not 8',
      '',
    ]);
    expect(existsSync(path.join(dir, 'mkosi.version'))).toBe(true);
  });
});
