/**
 * In CI nothing is skipped: a real integration suite run by vitest with CI=1 and gpg hidden from
 * PATH fails, with a line naming gpg and its package, instead of passing without running.
 */
import { lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runAsync } from './helpers/kiln.js';

/** A PATH of one directory with everything the current PATH has, except `hidden`. */
function pathWithout(hidden: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-path-'));
  for (const from of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    let names: string[] = [];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name === hidden) continue;
      try {
        lstatSync(path.join(dir, name));
      } catch {
        symlinkSync(path.join(from, name), path.join(dir, name));
      }
    }
  }
  return dir;
}

const hiddenPath = pathWithout('gpg');
afterAll(() => rmSync(hiddenPath, { recursive: true, force: true }));

describe('CI=1', () => {
  it('fails a suite whose tool is missing, naming the tool', async () => {
    const vitest = path.join(REPO, 'node_modules/vitest/vitest.mjs');
    const result = await runAsync([process.execPath, vitest, 'run', '--project', 'integration', 'test/integration/commit-atomic.test.ts'], {
      cwd: REPO,
      env: { CI: '1', PATH: hiddenPath, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const output = result.stdout + result.stderr;
    expect(result.status, output).toBe(1);
    expect(output).toMatch(/^Error: cannot run here, and CI \(CI=1\) skips nothing: needs (root, )?gpg \(install it with: apt-get install gnupg\)$/m);
    expect(output).not.toMatch(/^skipping: /m);
  }, 300_000);
});
