/**
 * An exclusive lock on a file, held by a `flock` child process for as long as kiln needs it. The lock
 * dies with kiln however kiln ends (even SIGKILL): the child's stdin is a pipe from kiln, and when it
 * closes the child exits and the kernel drops the lock. Two builds sharing a cache directory take
 * turns for the steps that write into it non-atomically.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { debug } from './log.js';
import { finish, spawn } from './run.js';

export async function withLock<T>(file: string, what: string, work: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const argv = ['flock', '--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'];
  const holder = spawn(argv, { what: `Locking ${file}`, stdin: 'pipe', stdout: 'pipe' });
  try {
    await new Promise<void>((resolve, reject) => {
      let waited = false;
      const timer = setTimeout(() => {
        waited = true;
        debug(`waiting for ${what} (another build holds ${file})`);
      }, 1000);
      holder.stdout!.once('data', () => {
        clearTimeout(timer);
        if (waited) debug(`got ${file}`);
        resolve();
      });
      holder.catch((error: unknown) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return await work();
  } finally {
    holder.stdin!.end();
    await finish(holder, argv, { what: `Unlocking ${file}` }).catch(() => undefined);
  }
}
