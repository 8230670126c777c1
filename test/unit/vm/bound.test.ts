/**
 * boundToKiln(): what kiln qemu starts dies with kiln, also when kiln is killed with SIGKILL, and
 * never starts at all once kiln is gone (the moment before setpriv could ask the kernel for that).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { boundToKiln } from '../../../src/vm/bound.js';
import { ensureCompiled } from '../../compat/compiled.js';
import { REPO } from '../../compat/corpus.js';

const noSetpriv = spawnSync('setpriv', ['--version']).status === 0 ? undefined : 'setpriv (util-linux) is not installed';

/** The pids of processes whose whole command line is `argv`. */
function processesRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

describe.skipIf(noSetpriv)('boundToKiln', () => {
  beforeAll(() => ensureCompiled());

  it('runs the command, its arguments as they are, while kiln is its parent', () => {
    const [command, ...args] = boundToKiln(['printf', '%s|', 'a b', '$PPID', '"; exit 3'], []);
    const result = spawnSync(command!, args, { encoding: 'utf8' });
    expect(result.stdout).toBe('a b|$PPID|"; exit 3|');
    expect(result.status).toBe(0);
  });

  it('does not start the command when kiln is no longer its parent', () => {
    const [command, ...args] = boundToKiln(['printf', 'started'], [], 1);
    const result = spawnSync(command!, args, { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).not.toBe(0);
  });

  it('ends the command when kiln is killed with SIGKILL', async () => {
    const sleeper = ['sleep', `1000.${process.pid}`];
    const module = path.join(REPO, 'dist/vm/bound.js');
    const program = `import { boundToKiln } from ${JSON.stringify(module)}; import { spawn } from 'node:child_process';
const [command, ...args] = boundToKiln(${JSON.stringify(sleeper)}); spawn(command, args, { stdio: 'ignore' }); setInterval(() => undefined, 1000);`;
    const kiln = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: 'ignore' });
    try {
      expect(await until(() => processesRunning(sleeper).length === 1, 10_000)).toBe(true);
    } finally {
      kiln.kill('SIGKILL');
    }
    expect(await until(() => processesRunning(sleeper).length === 0, 5_000)).toBe(true);
  });
});
