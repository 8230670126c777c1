/**
 * The .deb download cache for mmdebstrap, which has none of its own: cached packages are offered to
 * apt by linking them into the new root's archive directory, and what apt downloaded is moved back
 * into the cache afterwards. Entries appear atomically (link or rename), so builds sharing a cache
 * never see half a file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';

async function debsIn(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((name) => name.endsWith('.deb'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Puts `source` at `target` atomically: a hard link where possible, else a copy renamed into place. */
async function placeAtomically(source: string, target: string, move: boolean): Promise<void> {
  try {
    await fs.link(source, target);
    if (move) await fs.unlink(source);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'EXDEV' && code !== 'EPERM') throw error;
  }
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}`);
  await fs.copyFile(source, temporary, fs.constants.COPYFILE_FICLONE);
  await fs.rename(temporary, target);
  if (move) await fs.unlink(source);
}

/** A cache holds hundreds of packages; a bounded number of file operations at a time avoids EMFILE. */
async function placeAll(names: readonly string[], from: string, to: string, move: boolean): Promise<void> {
  const queue = new PQueue({ concurrency: 32 });
  await queue.addAll(names.map((name) => () => placeAtomically(path.join(from, name), path.join(to, name), move)));
}

export async function restoreCachedDebs(cache: string, archives: string): Promise<number> {
  const names = await debsIn(cache);
  await placeAll(names, cache, archives, false);
  return names.length;
}

export async function saveNewDebs(downloaded: string, cache: string): Promise<number> {
  await fs.mkdir(cache, { recursive: true });
  const names = await debsIn(downloaded);
  await placeAll(names, downloaded, cache, true);
  return names.length;
}
