/**
 * Tests that run the real CLI (bin/kiln) or read the compiled settings table need dist/ to match
 * src/. `npm test` compiles first (pretest); a bare `vitest run` may not have, so this compiles
 * when dist/ is missing or older than a source file — once, even with several test files asking.
 */
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './corpus.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(file) : statSync(file).mtimeMs);
  }
  return newest;
}

function compiledAt(): number {
  try {
    return statSync(path.join(REPO, 'dist/kiln.js')).mtimeMs;
  } catch {
    return 0;
  }
}

export function ensureCompiled(): void {
  if (compiledAt() >= newestSource(path.join(REPO, 'src'))) return;
  const lock = path.join(os.tmpdir(), `kiln-compiling${REPO.replaceAll('/', '-')}`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} stayed locked; remove it if no compile is running`);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (compiledAt() >= newestSource(path.join(REPO, 'src'))) return;
    try {
      execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', REPO], { stdio: 'pipe' });
    } catch {
      // Type errors elsewhere still emit JavaScript; the tests below judge the result.
    }
    // bin/kiln runs the bundle of what tsc emitted.
    execFileSync('npm', ['run', '--silent', '--prefix', REPO, 'bundle'], { stdio: 'pipe' });
  } finally {
    rmdirSync(lock);
  }
}
