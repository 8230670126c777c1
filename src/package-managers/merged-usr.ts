/**
 * Debian (since bookworm) and Ubuntu have /bin, /sbin and /lib as links into /usr. The bootstrap
 * tools make those links themselves (debootstrap --merged-usr, mmdebstrap's merged-usr hook, which
 * spares the usrmerge package and its perl), but they need the names free. Skeleton trees are copied
 * before them, so the links are made early for the copy — a skeleton's bin/foo lands in usr/bin/foo
 * — and taken away again just before the tool runs.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** debootstrap's setup_merged_usr() list, by dpkg architecture. */
const EXTRA_LIBRARY_DIRS: Readonly<Record<string, readonly string[]>> = {
  amd64: ['lib32', 'lib64', 'libx32'],
  i386: ['lib64', 'libx32'],
  mips: ['lib32', 'lib64'],
  mipsel: ['lib32', 'lib64'],
  mips64el: ['lib32', 'lib64', 'libo32'],
  powerpc: ['lib64'],
  ppc64: ['lib32', 'lib64'],
  ppc64el: ['lib64'],
  s390x: ['lib32'],
  sparc: ['lib64'],
  sparc64: ['lib32', 'lib64'],
  x32: ['lib32', 'lib64', 'libx32'],
};

export function mergedUsrDirectories(debianArchitecture: string): string[] {
  return ['bin', 'sbin', 'lib', ...(EXTRA_LIBRARY_DIRS[debianArchitecture] ?? [])];
}

export const MERGED_USR_HOOK = '/usr/share/mmdebstrap/hooks/merged-usr';

export function hasMergedUsrHook(): boolean {
  return existsSync(path.join(MERGED_USR_HOOK, 'setup00.sh'));
}

/** Makes the links in an empty (or skeleton-less) root, where nothing of that name exists yet. */
export async function linkMergedUsr(root: string, debianArchitecture: string): Promise<void> {
  for (const dir of mergedUsrDirectories(debianArchitecture)) {
    const link = path.join(root, dir);
    if (await fs.lstat(link).catch(() => undefined)) continue;
    await fs.mkdir(path.join(root, 'usr', dir), { recursive: true });
    await fs.symlink(`usr/${dir}`, link);
  }
}

/** Takes away exactly the links linkMergedUsr() made, so the bootstrap tool can make its own. */
export async function unlinkMergedUsr(root: string, debianArchitecture: string): Promise<void> {
  for (const dir of mergedUsrDirectories(debianArchitecture)) {
    const link = path.join(root, dir);
    if ((await fs.readlink(link).catch(() => undefined)) === `usr/${dir}`) await fs.unlink(link);
  }
}
