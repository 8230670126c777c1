/**
 * The files of a git work tree that SourceFileTransfer=copy-git-* copies, listed by git itself with
 * mkosi 14's flags (its copy_git_files()):
 * - copy-git-cached: `git ls-files --cached --exclude-standard` — what git tracks;
 * - copy-git-others: that plus `--others --exclude=.mkosi-*` — untracked files too, but not those
 *   git ignores;
 * - copy-git-more:   copy-git-cached plus every file below .git/.
 * Submodules are listed the same way inside each of them (with their .git file for copy-git-more).
 * Names are bytes: git quotes any name that is not plain ASCII, and kiln reads the quoting back.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SourceFileTransfer } from '../config/types.js';
import { run } from '../run.js';
import { joinBytes } from '../tree/walk.js';

type GitMode = Exclude<SourceFileTransfer, 'copy-all' | 'mount'>;

/**
 * git refuses a repository that another user owns ("dubious ownership") when kiln runs as root
 * under sudo; reading the file list of the sources (and their submodules) the user named is what
 * they asked for, so this one command trusts them.
 */
async function git(directory: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(['git', '-c', 'safe.directory=*', '-c', 'core.quotePath=true', '-C', directory, ...args], {
    stdio: 'pipe',
    read: true,
    what: `Listing the files of ${directory} with git`,
    hint: 'BuildSources= must be a git work tree for SourceFileTransfer=copy-git-*; copy-all copies any directory',
  });
  return stdout;
}

const ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** A path as git prints it with core.quotePath: as it is when plain ASCII, else C-quoted with octal bytes. */
export function unquoteGitPath(line: string): Buffer {
  if (!line.startsWith('"') || !line.endsWith('"') || line.length < 2) return Buffer.from(line);
  const bytes: number[] = [];
  for (let i = 1; i < line.length - 1; i++) {
    const character = line[i]!;
    if (character !== '\\') {
      bytes.push(...Buffer.from(character));
      continue;
    }
    const next = line[++i] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(Number.parseInt(line.slice(i, i + 3), 8));
      i += 2;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
    }
  }
  return Buffer.from(bytes);
}

function lsFilesFlags(mode: GitMode): string[] {
  const flags = ['--exclude-standard', '--cached'];
  if (mode === 'copy-git-others') flags.push('--others', '--exclude=.mkosi-*', '--exclude=.kiln-build-*');
  return flags;
}

/** One path per line; a nested repository that --others lists as "dir/" loses its slash. */
function lines(output: string): Buffer[] {
  return output
    .split('\n')
    .filter(Boolean)
    .map(unquoteGitPath)
    .map((file) => (file.length > 1 && file[file.length - 1] === 0x2f ? file.subarray(0, -1) : file));
}

async function lsFiles(directory: string, mode: GitMode): Promise<Buffer[]> {
  return lines(await git(directory, ['ls-files', ...lsFilesFlags(mode)]));
}

/** Every file below `top` (relative to `base`), as os.walk() finds them: no directories, links not followed. */
async function filesBelow(base: Buffer, top: Buffer): Promise<Buffer[]> {
  const found: Buffer[] = [];
  const entries = await fs.readdir(joinBytes(base, top), { withFileTypes: true, encoding: 'buffer' }).catch(() => []);
  for (const entry of entries) {
    const relative = joinBytes(top, entry.name);
    if (entry.isDirectory()) found.push(...(await filesBelow(base, relative)));
    else found.push(relative);
  }
  return found;
}

/**
 * Whether the index holds a submodule (a gitlink, mode 160000) below `directory`. `git submodule
 * status` lists exactly those, but it is a shell script that takes half a second or more; without
 * a gitlink its answer is known to be empty.
 */
async function hasGitlinks(directory: string): Promise<boolean> {
  return (await git(directory, ['ls-files', '--stage'])).split('\n').some((line) => line.startsWith('160000 '));
}

/** The paths to copy from the git work tree `sources`, relative to it, sorted bytewise. */
export async function gitFiles(sources: string, mode: GitMode): Promise<Buffer[]> {
  const files = new Map<string, Buffer>();
  const add = (file: Buffer): void => void files.set(file.toString('latin1'), file);
  // Both listings at once: each git process costs a spawn, noticeable on a rebuild that copies a few files.
  const [listed, gitlinks] = await Promise.all([lsFiles(sources, mode), hasGitlinks(sources)]);
  for (const file of listed) add(file);
  if (mode === 'copy-git-more') for (const file of await filesBelow(Buffer.from(sources), Buffer.from('.git'))) add(file);

  const submodules = (gitlinks ? await git(sources, ['submodule', 'status', '--recursive']) : '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[1])
    .filter((name): name is string => Boolean(name))
    .map(unquoteGitPath);
  const isSubmodule = (file: Buffer): boolean => submodules.some((submodule) => submodule.equals(file));
  // ls-files names each submodule as one entry; its files are listed from inside it instead.
  for (const submodule of submodules) files.delete(submodule.toString('latin1'));
  for (const submodule of submodules) {
    for (const file of await lsFiles(path.join(sources, submodule.toString()), mode)) {
      const relative = joinBytes(submodule, file);
      if (!isSubmodule(relative)) add(relative);
    }
    if (mode === 'copy-git-more') add(joinBytes(submodule, Buffer.from('.git')));
  }
  return [...files.values()].sort(Buffer.compare);
}
