/**
 * Locks on files, held by a `flock` child process for as long as kiln needs them. A lock dies with
 * kiln however kiln ends (even SIGKILL): the child's stdin is a pipe from kiln, and when it closes
 * the child exits and the kernel drops the lock. Two builds sharing a cache directory take turns for
 * the steps that write into it non-atomically, and nobody deletes a cached root another build uses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { debug } from './log.js';
import { finish, spawn } from './run.js';

export interface LockOptions {
  /** Several holders at once (readers); an exclusive lock waits for all of them. */
  readonly shared?: boolean;
  /** Give up at once instead of waiting; acquireLock then returns undefined. */
  readonly nonBlocking?: boolean;
}

export type Release = () => Promise<void>;

export async function acquireLock(file: string, what: string, options: LockOptions = {}): Promise<Release | undefined> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const argv = [
    'flock',
    options.shared ? '--shared' : '--exclusive',
    ...(options.nonBlocking ? ['--nonblock', '--conflict-exit-code', '75'] : []),
    file,
    'sh',
    '-c',
    'echo locked; exec cat >/dev/null',
  ];
  const holder = spawn(argv, { what: `Locking ${file}`, stdin: 'pipe', stdout: 'pipe' });
  const release: Release = async () => {
    holder.stdin!.end();
    await finish(holder, argv, { what: `Unlocking ${file}` }).catch(() => undefined);
  };
  const locked = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => debug(`waiting for ${what} (another build holds ${file})`), 1000);
    holder.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(true);
    });
    holder.then(
      (result) => {
        clearTimeout(timer);
        resolve(false);
        void result;
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (options.nonBlocking && (error as { exitCode?: number }).exitCode === 75) resolve(false);
        else reject(error);
      },
    );
  });
  if (!locked) {
    await release();
    return undefined;
  }
  return release;
}

export async function withLock<T>(file: string, what: string, work: () => Promise<T>): Promise<T> {
  const release = await acquireLock(file, what);
  if (!release) throw new Error(`internal: could not lock ${file}`);
  try {
    return await work();
  } finally {
    await release();
  }
}
