/**
 * SIGINT, SIGTERM and SIGHUP abort the build instead of killing kiln outright: run() ends the child
 * processes, the cleanup stack unmounts and removes the workspace, and kiln exits with 128+signal.
 */
import { InterruptedError } from './errors.js';

let controller = new AbortController();
let installed = false;

export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** Throws the InterruptedError if the build was interrupted; call between stages. */
export function throwIfInterrupted(): void {
  if (controller.signal.aborted) throw controller.signal.reason as Error;
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
