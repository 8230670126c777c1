/**
 * The stored expectations cannot drift from mkosi 14: generate.py --check re-runs mkosi 14's own
 * parser on every case and compares. Needs python3 and mkosi 14 (CI installs both).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCompiled } from './compiled.js';
import { COMPAT } from './corpus.js';
import { unavailable } from '../skip.js';

function missing(): string | undefined {
  try {
    execFileSync('python3', ['--version'], { stdio: 'pipe' });
  } catch {
    return 'python3 is not installed';
  }
  if (!existsSync('/usr/lib/python3/dist-packages/mkosi/__init__.py')) return 'mkosi 14 is not installed (apt-get install mkosi)';
  return undefined;
}

const reason = unavailable(missing());

describe.skipIf(reason)('mkosi-compat/generate.py --check', () => {
  beforeAll(ensureCompiled, 120_000);

  it('finds every stored expected.json equal to what mkosi 14 resolves now', () => {
    const result = spawnSync('python3', [path.join(COMPAT, 'generate.py'), '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^\d+ cases match mkosi 14\n$/);
    // One mkosi 14 process per case: minutes on a busy 2-core machine.
  }, 300_000);
});
