/**
 * Glob matching inside the image for RemoveFiles= and package-metadata cleanup. Python's glob (what
 * mkosi 14 used) follows symlinked directories with host semantics, so an absolute link in the image
 * could make it delete host files; here every directory is resolved inside the image root.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { resolveInRoot } from './safe-path.js';

/** fnmatch-style: `*`, `?` and `[…]` within one path component; dot files need an explicit dot. */
export function componentPattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        source += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      source += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function hasMagic(part: string): boolean {
  return /[*?[]/.test(part);
}

const SLASH = Buffer.from('/');

/**
 * Image paths (starting with "/", as bytes) matching `pattern`, as glob.glob() would find them.
 * Names are matched as UTF-8 text, a byte that is not UTF-8 counting as one character (Python's
 * surrogateescape does the same), and kept as the bytes they are.
 */
export async function globInRoot(root: string, pattern: string): Promise<Buffer[]> {
  const parts = pattern.split('/').filter(Boolean);
  let matches: Buffer[] = [Buffer.alloc(0)];
  for (const [index, part] of parts.entries()) {
    const isLast = index === parts.length - 1;
    const next: Buffer[] = [];
    for (const base of matches) {
      if (!hasMagic(part)) {
        const candidate = Buffer.concat([base, SLASH, Buffer.from(part)]);
        try {
          await fs.lstat(await resolveInRoot(root, candidate, !isLast));
          next.push(candidate);
        } catch {
          // no match
        }
        continue;
      }
      let names: Buffer[];
      try {
        names = await fs.readdir(await resolveInRoot(root, base.length > 0 ? base : SLASH), { encoding: 'buffer' });
      } catch {
        continue;
      }
      const regex = componentPattern(part);
      for (const name of names.sort(Buffer.compare)) {
        if (name[0] === 0x2e && !part.startsWith('.')) continue;
        if (regex.test(name.toString('utf8'))) next.push(Buffer.concat([base, SLASH, name]));
      }
    }
    matches = next;
  }
  return matches.filter((match) => match.length > 0);
}

/** Removes everything matching `pattern` (a symlink is removed, never followed). */
export async function removeGlobInRoot(root: string, pattern: string): Promise<Buffer[]> {
  const matches = await globInRoot(root, pattern);
  const top = Buffer.from(path.join(root));
  for (const match of matches) {
    const target = await resolveInRoot(root, match, false);
    if (target.equals(top)) continue;
    await fs.rm(target, { recursive: true, force: true });
  }
  return matches;
}
