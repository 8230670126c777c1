/** Raw HTTP requests: HTTP clients clean up "..", "//" and "%2e" themselves, so the server never sees them. */
import net from 'node:net';

/** Sends one raw request (HTTP/1.0, so the server closes the connection) and returns the status and body. */
export function rawRequest(port: number, request: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // write(), not end(): a half-closed connection makes node's server drop the answer.
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(data.split(' ')[1]), body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
  });
}

/** `GET <target>` as sent, byte for byte. */
export function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return rawRequest(port, Buffer.from(`GET ${target} HTTP/1.0\r\n\r\n`, 'latin1'));
}

/**
 * The spellings of one file name a client could try to get at it: plain, upper and mixed case,
 * fully and partly percent-encoded, with "./", "//", "..", a trailing slash, NUL and query.
 */
export function spellings(name: string): string[] {
  const encoded = [...Buffer.from(name)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
  const first = `%${name.charCodeAt(0).toString(16).toUpperCase()}${name.slice(1)}`;
  const mixed = [...name].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
  return [
    `/${name}`,
    `/${name.toUpperCase()}`,
    `/${mixed}`,
    `/${encoded}`,
    `/${first}`,
    `/${name.replaceAll('.', '%2e')}`,
    `/./${name}`,
    `/%2e/${name}`,
    `//${name}`,
    `/${name}/`,
    `/x/../${name}`,
    `/x%2f..%2f${name}`,
    `/image.tar.gz/../${name}`,
    `/${name}%00`,
    `/${name}%00.tar.gz`,
    `/${name}?download=1`,
    `/${name}#x`,
    `/${name}%20`,
    `/%252e/${name}`,
    `/.%2f${name}`,
    `http://127.0.0.1/${name}`,
  ];
}
