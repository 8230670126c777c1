/**
 * An HTTP proxy on 127.0.0.1 that forwards every request and counts the ones for .deb files: with
 * http_proxy pointing at it, a test sees how often apt really downloaded each package.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  readonly url: string;
  /** How often each .deb (by file name) was fetched through the proxy. */
  readonly debs: Map<string, number>;
  close(): Promise<void>;
}

export async function startCountingProxy(): Promise<CountingProxy> {
  const debs = new Map<string, number>();
  const server = http.createServer((request, response) => {
    let target: URL;
    try {
      target = new URL(request.url ?? '');
    } catch {
      response.writeHead(400).end();
      return;
    }
    const name = decodeURIComponent(target.pathname.split('/').pop() ?? '');
    if (request.method === 'GET' && name.endsWith('.deb')) debs.set(name, (debs.get(name) ?? 0) + 1);
    const upstream = http.request(target, { method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    debs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
