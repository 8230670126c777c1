/**
 * Locks on files, held by a `flock` child process for as long as kiln needs them. A lock dies with
 * kiln however kiln ends (even SIGKILL): the child's stdin is a pipe from kiln, and when it closes
 * the child exits and the kernel drops the lock. Two builds sharing a cache directory take turns for
 * the steps that write into it non-atomically, and nobody deletes a cached root another build uses.
 *
 * An interrupt does not end the holder (it is uninterruptible): a build that fails or is stopped
 * under a lock keeps it, registered in its cleanup stack, until its processes are gone and its
 * mounts and workspace undone — only then can another build take it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CleanupStack } from './context.js';
import { debug } from './log.js';
import { finish, spawn } from './run.js';
import { interruptSignal, throwIfInterrupted } from './signals.js';

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
  const holder = spawn(argv, { what: `Locking ${file}`, stdin: 'pipe', stdout: 'pipe', uninterruptible: true });
  const release: Release = async () => {
    holder.stdin!.end();
    await finish(holder, argv, { what: `Unlocking ${file}` }).catch(() => undefined);
  };
  // An interrupt that comes while kiln waits ends the wait (not one that came before: cleanup may
  // still take locks after an interrupt).
  const interrupt = interruptSignal();
  let stopped = false;
  const stopWaiting = (): void => {
    stopped = true;
    holder.kill('SIGTERM');
  };
  if (!interrupt.aborted) interrupt.addEventListener('abort', stopWaiting, { once: true });
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
  interrupt.removeEventListener('abort', stopWaiting);
  if (!locked) {
    await release();
    if (stopped) throwIfInterrupted();
    return undefined;
  }
  return release;
}

/**
 * Runs `work` under the lock. When it succeeds the lock is released at once; when it fails (or is
 * interrupted) the lock stays registered in `cleanup`, which releases it after undoing everything else.
 */
export async function withLock<T>(cleanup: CleanupStack, file: string, what: string, work: () => Promise<T>): Promise<T> {
  const release = await acquireLock(file, what);
  if (!release) throw new Error(`internal: could not lock ${file}`);
  const entry = `unlock ${what} (${file})`;
  cleanup.pushLock(entry, release);
  const result = await work();
  await cleanup.runNow(entry);
  return result;
}
