/**
 * A named pipe through which a hook of a long-running tool (mmdebstrap's --extract-hook) tells kiln
 * that the tool has reached a point, so kiln can act in the middle of the run — publish the
 * downloads and let the next build have the package cache — rather than only at its end.
 *
 * kiln keeps the pipe open for reading and writing, so a hook's write never blocks and never fails
 * for want of a reader; reading goes through the event loop (a blocking read would hold one of
 * libuv's few threads for the whole run).
 */
import { constants, openSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { run } from '../run.js';

export interface HookPipe {
  /** Where the hook writes its line: `echo downloaded > PATH`. */
  readonly path: string;
  /** Calls `listener` once for each line a hook writes. */
  onLine(listener: (line: string) => void): void;
  close(): void;
}

export async function openHookPipe(dir: string, name: string): Promise<HookPipe> {
  // A directory of its own each time: one build bootstraps twice (a development image, then the image).
  const file = path.join(await mkdtemp(path.join(dir, `${name}-`)), name);
  await run(['mkfifo', '--mode=0600', file], { what: 'Making a pipe for mmdebstrap\'s hooks' });
  const socket = new net.Socket({ fd: openSync(file, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
  socket.setEncoding('utf8');
  const listeners: ((line: string) => void)[] = [];
  let pending = '';
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      for (const listener of listeners) listener(line);
    }
  });
  socket.on('error', () => undefined);
  return {
    path: file,
    onLine: (listener) => listeners.push(listener),
    close: () => socket.destroy(),
  };
}
