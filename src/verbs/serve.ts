/**
 * `kiln serve [[ADDRESS:]PORT]`: mkosi 14's verb — the outputs of the last build over HTTP on port
 * 8081, so that `machinectl pull-tar http://HOST:8081/image.tar.xz` fetches an image with its
 * sidecars. mkosi served the whole output directory with python's http.server, and that directory
 * is usually the configuration directory: mkosi.rootpw, mkosi.passphrase, keys and all. kiln serves
 * only the build's outputs (the allow-list is artifacts/served.ts; the names come from
 * artifacts/names.ts, where every format declares what it writes), GET and HEAD only, every other
 * path 404. `/` lists the served files. kiln adds the optional address and port (port 0: any free
 * port); it stops cleanly on Ctrl-C.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { producedOutputs } from '../artifacts/names.js';
import { currentNames, keyFileNames, openRegular, requestedName, servedFiles, type ServedSource } from '../artifacts/served.js';
import { UserError } from '../errors.js';
import { info, warn } from '../log.js';
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

function contentType(name: string): string {
  if (name.endsWith('.manifest') || name.endsWith('.json')) return 'application/json';
  if (name === 'SHA256SUMS' || name.endsWith('.nspawn') || name.endsWith('.roothash')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `/`: one name a line for scripts (`curl host:8081/`), a page of links for a browser. */
export function renderListing(files: readonly { name: string; size: number }[], html: boolean): string {
  if (!html) return files.map((file) => `${file.name}\n`).join('');
  const items = files.map((file) => `<li><a href="${escapeHtml(encodeURIComponent(file.name))}">${escapeHtml(file.name)}</a> (${file.size} bytes)</li>`);
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>kiln serve</title></head>\n<body><ul>\n${items.join('\n')}\n</ul></body></html>\n`;
}

/** A request target as it may be logged: control characters a client sent are shown escaped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function respond(response: http.ServerResponse, status: number, type: string, body: string, head: boolean): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  response.end(head ? undefined : body);
}

async function answer(source: ServedSource, request: http.IncomingMessage, response: http.ServerResponse): Promise<number> {
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    respond(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', false);
    return 405;
  }
  const head = method === 'HEAD';
  const name = requestedName(request.url ?? '/');
  if (name === '') {
    const html = /\btext\/html\b/.test(request.headers.accept ?? '');
    const listing = renderListing(await servedFiles(source), html);
    respond(response, 200, html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8', listing, head);
    return 200;
  }
  const allowed = name !== undefined && (await currentNames(source)).includes(name);
  const file = allowed ? await openRegular(source.directory, name) : undefined;
  if (!file) {
    respond(response, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    return 404;
  }
  response.writeHead(200, {
    'Content-Type': contentType(name!),
    'Content-Length': file.size,
    'Last-Modified': file.mtime.toUTCString(),
    'X-Content-Type-Options': 'nosniff',
  });
  if (head || file.size === 0) {
    await file.handle.close();
    response.end();
  } else {
    // No more than the announced length, should the file grow meanwhile; the stream closes the
    // handle when it ends or the client goes away.
    await pipeline(file.handle.createReadStream({ end: file.size - 1 }), response);
  }
  return 200;
}

/**
 * How long an idle keep-alive connection stays open. Node's 5 s races with clients that reuse a
 * connection just as the server closes it (the request then fails with "other side closed"); a busy
 * build machine makes that window wide. A minute, as common HTTP servers keep them, leaves the
 * closing to the client.
 */
const KEEP_ALIVE_MS = 60_000;

export function createFileServer(source: ServedSource, log: (line: string) => void): http.Server {
  return http.createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (request, response) => {
    answer(source, request, response).then(
      (status) => log(`${request.method} ${printable(request.url ?? '')} ${status}`),
      (error: unknown) => {
        // A client that goes away mid-download: nothing to answer any more.
        log(`${request.method} ${printable(request.url ?? '')} failed: ${(error as Error).message}`);
        response.destroy();
      },
    );
  });
}

/** The addresses a server listening on every address answers on, for the start line. */
function everyAddress(port: number): string[] {
  const urls: string[] = [];
  for (const entries of Object.values(os.networkInterfaces())) {
    for (const entry of entries ?? []) {
      // Link-local IPv6 addresses need a zone to be usable in a URL; they would only confuse.
      if (entry.family === 'IPv6' && entry.address.startsWith('fe80:')) continue;
      urls.push(entry.family === 'IPv6' ? `http://[${entry.address}]:${port}/` : `http://${entry.address}:${port}/`);
    }
  }
  return urls;
}

/** The one line that says what is served, from where and on which addresses. */
export function startLine(names: readonly string[], directory: string, address: AddressInfo, interfaces: readonly string[]): string {
  const what = `Serving ${names.join(', ')} from ${directory}`;
  if (address.address === '::' || address.address === '0.0.0.0') {
    const urls = interfaces.length > 0 ? ` (${interfaces.join(', ')})` : '';
    return `${what} on EVERY address of this machine, port ${address.port}${urls}; kiln serve 127.0.0.1:${address.port} serves this machine only (Ctrl-C stops)`;
  }
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${what} on http://${shown}:${address.port}/ (Ctrl-C stops)`;
}

export const serve: Verb = {
  doc: 'Serve the outputs of the last build over HTTP on port 8081 (kiln: serve [[ADDRESS:]PORT])',
  origin: 'mkosi',
  takesArguments: true,
  async run(invocation) {
    const args = invocation.args.commandLine;
    if (args.length > 1) throw new UserError('kiln serve takes at most one [ADDRESS:]PORT');
    const listen = parseListen(args[0]);
    const { config } = invocation.config();
    const given = path.dirname(config.Output);
    const directory = await fs.realpath(given).catch(() => {
      throw new UserError(`${invocation.display(given)}: the output directory does not exist`, { hint: 'build first: kiln build' });
    });
    const produced = producedOutputs(config);
    const source: ServedSource = { directory, produced, refused: keyFileNames(config, [given, directory]) };
    const files = await servedFiles(source);
    const image = produced[0]!.name;
    if (!files.some((file) => file.name === image) && (await fs.stat(path.join(directory, image)).catch(() => undefined))?.isDirectory()) {
      warn(`${image} is a directory (Format=${config.Format}), which kiln serve does not serve: systemd-pull fetches tar and raw images`);
    }
    if (files.length === 0) {
      throw new UserError(`kiln serve: nothing to serve in ${invocation.display(directory)}: ${image} has not been built`, { hint: 'build first: kiln build' });
    }

    const server = createFileServer(source, info);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new UserError(`kiln serve: cannot listen on ${listen.host ?? '*'}:${listen.port}: ${error.code ?? error.message}`)),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    info(startLine(files.map((file) => file.name), invocation.display(directory), address, everyAddress(address.port)));
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
