/**
 * What `kiln serve` may hand out: the outputs of the last build and nothing else. The output
 * directory is usually the configuration directory, beside mkosi.rootpw, mkosi.passphrase, keys and
 * the whole image definition, so the directory listing is never consulted: the names come from
 * names.ts (what this configuration writes; formats add theirs there, not here) and from
 * SHA256SUMS (what the last build wrote, if it was run with other options or the configuration
 * changed since). A request names one of them exactly, or gets nothing.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { manifestName, stripSuffixes, type ProducedOutput } from './names.js';
import { CHECKSUM_FILE, parseSha256Sums, PULLED_SIDECARS, SIGNATURE_FILE } from './verify.js';

/** Bytes, control characters and separators no output name has; a request with one is refused. */
const FORBIDDEN = /[/\\\u0000-\u001f\u007f]/;

/**
 * The file name a request target names ("/image.tar.xz" → "image.tar.xz"), "" for the listing at
 * "/", or undefined. The path must be one segment below "/": "./x", "//x", "a/../x" and percent-
 * encoded slashes are refused rather than normalised, so there is exactly one spelling of each
 * file. Percent-encoding is decoded once (so "%252e" stays "%2e", which names nothing).
 */
export function requestedName(target: string): string | undefined {
  // An absolute-form target (what proxies send) carries the path after the authority.
  const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
  const rest = absolute ? target.slice(absolute[0].length) || '/' : target;
  const pathname = rest.split(/[?#]/, 1)[0]!;
  if (pathname === '/') return '';
  if (!pathname.startsWith('/') || pathname.indexOf('/', 1) !== -1) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(pathname.slice(1));
  } catch {
    return undefined;
  }
  return name === '' || FORBIDDEN.test(name) ? undefined : name;
}

/**
 * The names that may be served, sorted: this configuration's outputs but its secrets; and when
 * there is a SHA256SUMS, the last build's, whatever options it was run with: SHA256SUMS and its
 * signature, the images it lists, the sidecars systemd-pull fetches beside them and their
 * manifests. A listed name is taken only if it has an image suffix (names.ts) or is such a
 * sidecar, and never if it is hidden (a running build's workspace), an mkosi.* input of the
 * configuration or one of `refused` (its key files): a SHA256SUMS written by hand over the whole
 * directory does not publish id_rsa.
 */
export function allowedNames(produced: readonly ProducedOutput[], sha256sums: string | undefined, refused: ReadonlySet<string> = new Set()): string[] {
  const secrets = new Set(produced.filter((output) => output.secret).map((output) => output.name));
  const names = new Set(produced.filter((output) => !output.secret).map((output) => output.name));
  if (sha256sums !== undefined) {
    names.add(CHECKSUM_FILE).add(SIGNATURE_FILE);
    const listed = parseSha256Sums(sha256sums)
      .entries.map((entry) => entry.name)
      .filter((name) => !name.startsWith('.') && !name.startsWith('mkosi.'));
    const images = listed.filter((name) => stripSuffixes(name) !== name);
    const stems = new Set(images.map(stripSuffixes));
    for (const image of images) names.add(image).add(manifestName(image));
    for (const name of listed) {
      if (PULLED_SIDECARS.some((suffix) => name.endsWith(suffix) && stems.has(name.slice(0, -suffix.length)))) names.add(name);
    }
  }
  return [...names].filter((name) => !secrets.has(name) && !refused.has(name) && !FORBIDDEN.test(name)).sort();
}

/** SHA256SUMS is a few lines; anything larger was not written by a build. */
const MAX_SUMS_BYTES = 1024 * 1024;

export interface ServedSource {
  /** The output directory, a real path. */
  readonly directory: string;
  readonly produced: readonly ProducedOutput[];
  /** Names in the directory that are never served, whatever lists them. */
  readonly refused: ReadonlySet<string>;
}

/** The current allow-list: SHA256SUMS is read again each time, as a rebuild may replace it. */
export async function currentNames(source: ServedSource): Promise<string[]> {
  let sums: string | undefined;
  const file = await openRegular(source.directory, CHECKSUM_FILE);
  if (file && file.size <= MAX_SUMS_BYTES) sums = (await file.handle.readFile()).toString('utf8');
  await file?.handle.close();
  return allowedNames(source.produced, sums, source.refused);
}

export interface OpenFile {
  readonly handle: fs.FileHandle;
  readonly size: number;
  readonly mtime: Date;
}

/**
 * Opens `name` in `directory` if it is a regular file itself — not a symlink (O_NOFOLLOW), not a
 * FIFO that would block the open (O_NONBLOCK), not a directory. The caller closes the handle.
 */
export async function openRegular(directory: string, name: string): Promise<OpenFile | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path.join(directory, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const stat = await handle.stat().catch(() => undefined);
  if (!stat?.isFile()) {
    await handle.close();
    return undefined;
  }
  return { handle, size: stat.size, mtime: stat.mtime };
}

/** The allowed names that exist as regular files, with their sizes: what `/` lists. */
export async function servedFiles(source: ServedSource): Promise<{ name: string; size: number }[]> {
  const files: { name: string; size: number }[] = [];
  for (const name of await currentNames(source)) {
    const stat = await fs.lstat(path.join(source.directory, name)).catch(() => undefined);
    if (stat?.isFile()) files.push({ name, size: stat.size });
  }
  return files;
}

/** Settings naming key files that may sit in the output directory (the configuration directory). */
const KEY_FILE_SETTINGS = ['SecureBootKey', 'SecureBootCertificate', 'SshKey'] as const;

/** The names of the configuration's key files that lie in `directories` (the output directory, as given and as a real path). */
export function keyFileNames(config: Pick<Config, (typeof KEY_FILE_SETTINGS)[number]>, directories: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const setting of KEY_FILE_SETTINGS) {
    const file = config[setting];
    if (file && directories.includes(path.dirname(file))) names.add(path.basename(file));
  }
  return names;
}
