/**
 * `kiln serve [[ADDRESS:]PORT]`: mkosi 14's verb — the output directory over HTTP on port 8081, so
 * that `machinectl pull-tar http://HOST:8081/image.tar.xz` can fetch an image with its sidecars.
 * mkosi used python's http.server; this is node:http, and stricter: GET and HEAD only, regular
 * files only (no listings), nothing hidden (the workspace of a running build is a dot-directory in
 * the output directory), and nothing outside the directory, symlinks included. kiln adds the
 * optional address and port (port 0: any free port); it stops cleanly on Ctrl-C.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../errors.js';
import { info } from '../log.js';
import { interruptSignal } from '../signals.js';
import type { Verb } from './types.js';

export const DEFAULT_PORT = 8081;

/** `8081`, `127.0.0.1:8081`, `[::1]:8081`; no argument: every address, port 8081 (as mkosi). */
export function parseListen(arg: string | undefined): { host?: string; port: number } {
  if (arg === undefined) return { port: DEFAULT_PORT };
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(arg);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new UserError(`kiln serve: "${arg}" is not a port or ADDRESS:PORT`, { hint: 'e.g. kiln serve 127.0.0.1:8081' });
  const host = match[1]?.replace(/^\[(.*)\]$/, '$1');
  return host ? { host, port } : { port };
}

/**
 * The file a request path names, relative to the served directory, or undefined when the path
 * may not be served: an empty, "." or ".." segment, a hidden name, a NUL, or bad percent-encoding.
 * Pure; the symlink check needs the file system and is made by the caller.
 */
export function requestedFile(urlPath: string): string | undefined {
  const pathname = urlPath.split('?')[0]!.split('#')[0]!;
  if (!pathname.startsWith('/')) return undefined;
  const segments: string[] = [];
  for (const raw of pathname.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment.startsWith('.') || segment.includes('/') || segment.includes('\\') || segment.includes('\0')) return undefined;
    segments.push(segment);
  }
  return segments.length > 0 ? segments.join('/') : undefined;
}

/** Opens the file for a request if it is a regular file inside `root` (a real path) after symlinks. */
async function resolveServed(root: string, relative: string): Promise<{ file: string; size: number; mtime: Date } | undefined> {
  try {
    const file = await fs.realpath(path.join(root, relative));
    if (!file.startsWith(root.endsWith('/') ? root : `${root}/`)) return undefined;
    const stat = await fs.stat(file);
    return stat.isFile() ? { file, size: stat.size, mtime: stat.mtime } : undefined;
  } catch {
    return undefined;
  }
}

function respond(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

export function createFileServer(root: string, log: (line: string) => void): http.Server {
  return http.createServer((request, response) => {
    void (async () => {
      const method = request.method ?? 'GET';
      const url = request.url ?? '/';
      let status = 200;
      if (method !== 'GET' && method !== 'HEAD') {
        status = 405;
        response.setHeader('Allow', 'GET, HEAD');
        respond(response, status, 'only GET and HEAD\n');
      } else {
        const relative = requestedFile(url);
        const served = relative === undefined ? undefined : await resolveServed(root, relative);
        if (!served) {
          status = 404;
          respond(response, status, 'not found\n');
        } else {
          response.writeHead(200, {
            'Content-Type': 'application/octet-stream',
            'Content-Length': served.size,
            'Last-Modified': served.mtime.toUTCString(),
          });
          if (method === 'HEAD') response.end();
          else await pipeline(createReadStream(served.file), response);
        }
      }
      log(`${method} ${url} ${status}`);
    })().catch((error: unknown) => {
      // A client that goes away mid-download: nothing to answer any more.
      log(`${request.method} ${request.url} failed: ${(error as Error).message}`);
      response.destroy();
    });
  });
}

export const serve: Verb = {
  doc: 'Serve the output directory over HTTP on port 8081 (kiln: serve [[ADDRESS:]PORT])',
  origin: 'mkosi',
  takesArguments: true,
  async run(invocation) {
    const args = invocation.args.commandLine;
    if (args.length > 1) throw new UserError('kiln serve takes at most one [ADDRESS:]PORT');
    const listen = parseListen(args[0]);
    const { config } = invocation.config();
    const directory = await fs.realpath(path.dirname(config.Output)).catch(() => {
      throw new UserError(`${invocation.display(path.dirname(config.Output))}: the output directory does not exist`, { hint: 'build first: kiln build' });
    });
    const server = createFileServer(directory, info);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new UserError(`kiln serve: cannot listen on ${listen.host ?? '*'}:${listen.port}: ${error.code ?? error.message}`)),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    info(`Serving ${invocation.display(directory)} on http://${shown}:${address.port}/ (Ctrl-C stops)`);
    const stop = interruptSignal();
    await new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      else stop.addEventListener('abort', () => resolve(), { once: true });
    });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    info('stopped serving');
    return 0;
  },
};
