/**
 * SIGINT, SIGTERM and SIGHUP abort the build instead of killing kiln outright: run() ends the child
 * processes, the cleanup stack unmounts and removes the workspace, and kiln exits with 128+signal.
 *
 * Builds running side by side (`kiln --all`) each see the interrupt through a scope of their own,
 * so that one of them can be stopped alone (--fail-fast stops the others when one fails).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InterruptedError } from './errors.js';

let controller = new AbortController();
let installed = false;
const scope = new AsyncLocalStorage<AbortSignal>();

/** The signal that stops the current build: the process's, or its scope's. */
export function interruptSignal(): AbortSignal {
  return scope.getStore() ?? controller.signal;
}

/** Throws the InterruptedError if the build was interrupted; call between stages. */
export function throwIfInterrupted(): void {
  const signal = interruptSignal();
  if (signal.aborted) throw signal.reason as Error;
}

/** Runs `work` so that it stops when the process is interrupted or when `stop` is aborted. */
export function withInterruptScope<T>(stop: AbortSignal, work: () => T): T {
  return scope.run(AbortSignal.any([controller.signal, stop]), work);
}

/** Whether the whole process was interrupted (a signal), rather than one scope stopped. */
export function processInterrupted(): boolean {
  return controller.signal.aborted;
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) {
        process.stderr.write(`kiln: ${signal} again; still cleaning up, please wait\n`);
        return;
      }
      controller.abort(new InterruptedError(signal));
    });
  }
}

/** For tests that run several builds in one process. */
export function resetInterrupt(): void {
  controller = new AbortController();
}
