/**
 * The one way a test is skipped (test/skip.ts): with the reason printed outside CI, never in CI.
 * test/integration/ci-no-skip.test.ts runs a real suite with a tool hidden to prove the same end to end.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inCI, needs, unavailable } from '../skip.js';

const bin = mkdtempSync(path.join(os.tmpdir(), 'kiln-skip-'));
symlinkSync('/bin/sh', path.join(bin, 'kiln-test-tool'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('needs', () => {
  it('names what is missing from PATH, with the package of the tools it knows', () => {
    const env = { PATH: bin };
    expect(needs(['kiln-test-tool'], { root: false, env })).toBeUndefined();
    expect(needs(['kiln-test-tool', 'mkfs.ext4', 'kiln-no-such-tool'], { root: false, env })).toBe(
      'needs mkfs.ext4, kiln-no-such-tool (install it with: apt-get install e2fsprogs)',
    );
    expect(needs(['/bin/sh', '/nonexistent/kiln'], { root: false, env })).toBe('needs /nonexistent/kiln');
  });
});

describe('unavailable', () => {
  it('outside CI, prints the reason and returns it for skipIf', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(unavailable('needs gpg', {})).toBe('needs gpg');
      expect(unavailable('needs gpg', { CI: 'false' })).toBe('needs gpg');
      expect(unavailable(undefined, {})).toBeUndefined();
      expect(warn.mock.calls).toEqual([['skipping: needs gpg'], ['skipping: needs gpg']]);
    } finally {
      warn.mockRestore();
    }
  });

  it('in CI, fails with a line naming what is missing', () => {
    expect(() => unavailable('needs gpg', { CI: 'true' })).toThrow('cannot run here, and CI (CI=true) skips nothing: needs gpg');
    expect(() => unavailable('needs gpg', { CI: '1' })).toThrow(/needs gpg$/);
    expect(unavailable(undefined, { CI: '1' })).toBeUndefined();
    expect([inCI({ CI: '' }), inCI({ CI: '0' }), inCI({ CI: 'FALSE' }), inCI({}), inCI({ CI: 'yes' })]).toEqual([false, false, false, false, true]);
  });
});
