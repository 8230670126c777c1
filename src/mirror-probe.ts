/**
 * Before a build starts, kiln asks the mirror for one small file (Debian: dists/<release>/Release).
 * An unreachable mirror or a release it does not carry then fails in a second with the URL that
 * failed, instead of minutes later inside debootstrap or mmdebstrap.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { UserError } from './errors.js';

/** Proxies configured only for apt would make a direct probe fail; leave those to the package manager. */
function proxied(env: NodeJS.ProcessEnv): boolean {
  return ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'].some((name) => env[name]);
}

/** HEAD request with node:http (fetch refuses some ports, which apt does not), following redirects. */
function head(url: string, redirects = 5): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? https : http).request(url, { method: 'HEAD', timeout: 15_000 }, (response) => {
      response.resume();
      const location = response.headers.location;
      if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location && redirects > 0) {
        resolve(head(new URL(location, url).toString(), redirects - 1));
      } else {
        resolve(response.statusCode ?? 0);
      }
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('no answer within 15 seconds'), { code: 'ETIMEDOUT' })));
    request.on('error', reject);
    request.end();
  });
}

/** Throws a UserError naming the URL when the file cannot be fetched. */
export async function probeMirror(url: string, setting: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (url.startsWith('file://')) {
    const file = decodeURIComponent(new URL(url).pathname);
    try {
      await fs.access(file);
    } catch {
      throw new UserError(`${setting}: ${file} does not exist`, { hint: `check ${setting} and Release=` });
    }
    return;
  }
  if (!/^https?:\/\//.test(url) || proxied(env)) return;
  let status: number;
  try {
    status = await head(url);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UserError(`${setting}: cannot reach ${url} (${code})`, {
      hint: `check ${setting} and the network; kiln asks the mirror before building`,
    });
  }
  if (status === 404) {
    throw new UserError(`${setting}: ${url} does not exist (HTTP 404)`, { hint: `does the mirror carry this Release=? check ${setting} and Release=` });
  }
  if (status < 200 || status >= 300) throw new UserError(`${setting}: ${url} answered HTTP ${status}`, { hint: `check ${setting}` });
}
