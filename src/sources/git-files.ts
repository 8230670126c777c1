/**
 * The files of a git work tree that SourceFileTransfer=copy-git-* copies, listed by git itself with
 * mkosi 14's flags (its copy_git_files()):
 * - copy-git-cached: `git ls-files --cached --exclude-standard` — what git tracks;
 * - copy-git-others: that plus `--others --exclude=.mkosi-*` — untracked files too, but not those
 *   git ignores;
 * - copy-git-more:   copy-git-cached plus every file below .git/.
 * Submodules are listed the same way inside each of them (with their .git file for copy-git-more).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SourceFileTransfer } from '../config/types.js';
import { run } from '../run.js';

type GitMode = Exclude<SourceFileTransfer, 'copy-all' | 'mount'>;

/**
 * git refuses a repository that another user owns ("dubious ownership") when kiln runs as root
 * under sudo; reading the file list of the sources (and their submodules) the user named is what
 * they asked for, so this one command trusts them.
 */
function git(directory: string, args: readonly string[]): Promise<{ stdout: string }> {
  return run(['git', '-c', 'safe.directory=*', '-C', directory, ...args], {
    stdio: 'pipe',
    what: `Listing the files of ${directory} with git`,
    hint: 'BuildSources= must be a git work tree for SourceFileTransfer=copy-git-*; copy-all copies any directory',
  });
}

function lsFilesFlags(mode: GitMode): string[] {
  const flags = ['--exclude-standard', '--cached'];
  if (mode === 'copy-git-others') flags.push('--others', '--exclude=.mkosi-*', '--exclude=.kiln-build-*');
  return flags;
}

function splitNul(output: string): string[] {
  return output.split('\0').filter(Boolean);
}

async function lsFiles(directory: string, mode: GitMode): Promise<string[]> {
  return splitNul((await git(directory, ['ls-files', '-z', ...lsFilesFlags(mode)])).stdout);
}

/** Every file below `top` (relative to `base`), as os.walk() finds them: no directories, links not followed. */
async function filesBelow(base: string, top: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await fs.readdir(path.join(base, top), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const relative = path.posix.join(top, entry.name);
    if (entry.isDirectory()) found.push(...(await filesBelow(base, relative)));
    else found.push(relative);
  }
  return found;
}

/** The relative paths to copy from the git work tree `sources`, sorted. */
export async function gitFiles(sources: string, mode: GitMode): Promise<string[]> {
  const files = new Set(await lsFiles(sources, mode));
  if (mode === 'copy-git-more') for (const file of await filesBelow(sources, '.git')) files.add(file);

  const status = (await git(sources, ['submodule', 'status', '--recursive'])).stdout;
  const submodules = status
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[1])
    .filter((name): name is string => Boolean(name));
  // ls-files names each submodule as one entry; its files are listed from inside it instead.
  for (const submodule of submodules) files.delete(submodule);
  for (const submodule of submodules) {
    for (const file of await lsFiles(path.join(sources, submodule), mode)) {
      const relative = path.posix.join(submodule, file);
      if (!submodules.includes(relative)) files.add(relative);
    }
    if (mode === 'copy-git-more') files.add(path.posix.join(submodule, '.git'));
  }
  return [...files].sort();
}
