/**
 * Every write into the image goes through here. Paths inside the image are resolved the way the
 * kernel would inside a chroot: an absolute symlink target starts at the image root and `..` stops
 * there, so no symlink in the image (or in a skeleton/extra tree) can lead a write onto the host.
 * mkosi 14 followed such links onto the host (measured); kiln cannot.
 *
 * Image paths come as strings (kiln's own, "/etc/hostname") or as bytes (names from a tree, which
 * need not be UTF-8); a Buffer in gives a Buffer out. Inside, paths are "raw" strings holding one
 * character per byte (latin1), so that path.posix can work on them and no name is ever re-encoded.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { showPath } from './show-path.js';

const MAX_SYMLINKS = 40;

/** One character per byte. */
function raw(file: string | Buffer): string {
  return (Buffer.isBuffer(file) ? file : Buffer.from(file)).toString('latin1');
}

function bytes(rawPath: string): Buffer {
  return Buffer.from(rawPath, 'latin1');
}

/** Back to a JavaScript string, for callers that passed one; refuses what UTF-8 cannot say. */
function text(rawPath: string): string {
  const buffer = bytes(rawPath);
  const decoded = buffer.toString('utf8');
  if (!Buffer.from(decoded).equals(buffer)) {
    throw new UserError(`${showPath(buffer)} is reached through a symlink to a name that is not UTF-8`);
  }
  return decoded;
}

function out(like: string | Buffer, rawPath: string): string | Buffer {
  return typeof like === 'string' ? text(rawPath) : bytes(rawPath);
}

/** Splits an image path ("/etc/hostname", "etc/hostname") into its components. */
function components(imagePath: string): string[] {
  return imagePath.split('/').filter((part) => part !== '' && part !== '.');
}

async function lstatOrUndefined(file: string) {
  try {
    return await fs.lstat(bytes(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The image path of a host path below the root, for messages. */
function shown(root: string, file: string): string {
  return showPath(bytes(`/${path.relative(root, file)}`));
}

async function resolveRaw(root: string, imagePath: string, followLast: boolean): Promise<string> {
  const pending = components(imagePath);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    const isLast = pending.length === 0;
    const stat = isLast && !followLast ? undefined : await lstatOrUndefined(candidate);
    if (stat?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) {
        throw new UserError(`too many levels of symbolic links at ${showPath(bytes(`/${[...resolved, part].join('/')}`))} in the image`);
      }
      const target = await fs.readlink(bytes(candidate), { encoding: 'latin1' });
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...components(target));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/**
 * The host path of `imagePath` inside `root`, with every symlink on the way resolved within the
 * root. With `followLast: false` the last component is not followed (to replace a symlink itself).
 * Missing components are fine: the result names where they would be created.
 */
export async function resolveInRoot(root: string, imagePath: string, followLast?: boolean): Promise<string>;
export async function resolveInRoot(root: string, imagePath: Buffer, followLast?: boolean): Promise<Buffer>;
export async function resolveInRoot(root: string, imagePath: string | Buffer, followLast = true): Promise<string | Buffer> {
  return out(imagePath, await resolveRaw(raw(root), raw(imagePath), followLast));
}

/** Whether `file` is `root` or below it (after resolution; a guard for our own mistakes). */
export function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

async function mkdirRaw(root: string, imagePath: string, mode: number): Promise<string> {
  let current = root;
  for (const part of components(imagePath)) {
    const next = await resolveRaw(root, path.join(path.relative(root, current), part), true);
    const stat = await lstatOrUndefined(next);
    // A link may point at a path whose parents do not exist yet; missing components are never links.
    if (!stat) await fs.mkdir(bytes(next), { mode, recursive: true });
    else if (!stat.isDirectory()) throw new UserError(`${shown(root, next)} in the image is not a directory`);
    current = next;
  }
  return current;
}

/** Creates a directory (and its parents) inside the image; returns its host path. */
export async function mkdirInRoot(root: string, imagePath: string, mode?: number): Promise<string>;
export async function mkdirInRoot(root: string, imagePath: Buffer, mode?: number): Promise<Buffer>;
export async function mkdirInRoot(root: string, imagePath: string | Buffer, mode = 0o755): Promise<string | Buffer> {
  return out(imagePath, await mkdirRaw(raw(root), raw(imagePath), mode));
}

async function targetRaw(root: string, imagePath: string): Promise<string> {
  const parts = components(imagePath);
  const name = parts.pop();
  if (name === undefined || name === '..') throw new Error(`internal: ${showPath(bytes(imagePath))} names no file in the image`);
  const target = path.join(await mkdirRaw(root, parts.join('/'), 0o755), name);
  if (!isInside(root, target)) throw new Error(`internal: ${showPath(bytes(imagePath))} resolved outside the image`);
  return target;
}

/** The host path where an image file should be written: its directory resolved, the name itself not. */
export async function targetInRoot(root: string, imagePath: string): Promise<string>;
export async function targetInRoot(root: string, imagePath: Buffer): Promise<Buffer>;
export async function targetInRoot(root: string, imagePath: string | Buffer): Promise<string | Buffer> {
  return out(imagePath, await targetRaw(raw(root), raw(imagePath)));
}

/**
 * Writes a file inside the image, replacing whatever is at that name (a symlink there is replaced,
 * never followed).
 */
export async function writeFileInRoot(
  root: string,
  imagePath: string,
  content: string | Uint8Array,
  mode = 0o644,
): Promise<string> {
  const target = await targetInRoot(root, imagePath);
  const existing = await lstatOrUndefined(raw(target));
  if (existing?.isDirectory()) throw new UserError(`cannot write /${imagePath.replace(/^\/+/, '')}: it is a directory in the image`);
  if (existing) await fs.unlink(target);
  // O_EXCL|O_NOFOLLOW: if something appeared at the name meanwhile, fail instead of following it.
  const handle = await fs.open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
  return target;
}

/** Reads a file of the image, resolving symlinks within the root; undefined if it does not exist. */
export async function readFileInRoot(root: string, imagePath: string): Promise<string | undefined> {
  try {
    return await fs.readFile(await resolveInRoot(root, imagePath), 'utf8');
  } catch (error) {
    if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/** Whether an image path exists (resolving symlinks within the root). */
export async function existsInRoot(root: string, imagePath: string): Promise<boolean> {
  return (await lstatOrUndefined(raw(await resolveInRoot(root, imagePath)))) !== undefined;
}

/** Removes an image path (not following a symlink at the name); directories recursively. */
export async function removeInRoot(root: string, imagePath: string): Promise<void> {
  const target = await resolveInRoot(root, imagePath, false);
  if (target === root) throw new Error('internal: refusing to remove the image root');
  await fs.rm(target, { recursive: true, force: true });
}

/** Creates (or replaces) a symlink inside the image; the link text itself is not interpreted. */
export async function symlinkInRoot(root: string, imagePath: string, linkText: string): Promise<void> {
  const target = await targetInRoot(root, imagePath);
  await fs.rm(target, { force: true });
  await fs.symlink(linkText, target);
}
