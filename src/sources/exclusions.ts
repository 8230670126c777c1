/**
 * What never goes into /root/src, whatever SourceFileTransfer= says: kiln's own outputs, caches,
 * workspaces and build directories, and .git (except for copy-git-more). mkosi 14 meant to leave
 * these out too, but its patterns ("mkosi.output/") never matched a name and it copied them all —
 * a previous image in the configuration directory went into every development image.
 */
import path from 'node:path';
import { producedFiles } from '../artifacts/names.js';
import type { Config } from '../config/types.js';

/** Names excluded wherever they appear: git's data, workspaces (kiln's and mkosi's), mkosi's caches. */
const EXCLUDED_NAMES: readonly RegExp[] = [/^\.kiln-build-/, /^\.mkosi-/, /\.cache-pre-(dev|inst)$/];

/** The directories mkosi 14 and kiln detect next to the configuration (and create content in). */
const DETECTED_DIRECTORIES = ['mkosi.output', 'mkosi.cache', 'mkosi.builddir', 'mkosi.includedir', 'mkosi.installdir', 'mkosi.workspace'];

export interface Exclusions {
  /** Absolute paths left out, with everything below them. */
  readonly paths: ReadonlySet<string>;
  /** Whether .git directories and files are copied (copy-git-more). */
  readonly keepGit: boolean;
}

function isStrictlyInside(parent: string, file: string): boolean {
  const relative = path.relative(parent, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** The exclusions for copying `config.BuildSources`. */
export function sourceExclusions(config: Config, sources: string, keepGit: boolean): Exclusions {
  const subdir = `${config.Distribution}~${config.Release}`;
  const candidates: string[] = [...producedFiles(config), ...DETECTED_DIRECTORIES.map((name) => path.join(sources, name))];
  for (const dir of [path.dirname(config.Output), config.Cache, config.BuildDirectory, config.WorkspaceDirectory, config.IncludeDirectory, config.InstallDirectory]) {
    if (dir === null) continue;
    candidates.push(dir);
    // mkosi.output/debian~bookworm: the other distributions' directories beside it go as well.
    if (path.basename(dir) === subdir) candidates.push(path.dirname(dir));
  }
  const paths = new Set(candidates.map((file) => path.resolve(file)).filter((file) => isStrictlyInside(sources, file)));
  return { paths, keepGit };
}

/** Whether an entry of the sources (absolute path, and its name) stays out. */
export function isExcluded(exclusions: Exclusions, file: string): boolean {
  const name = path.basename(file);
  if (name === '.git' && !exclusions.keepGit) return true;
  if (EXCLUDED_NAMES.some((pattern) => pattern.test(name))) return true;
  return exclusions.paths.has(file);
}

/** Whether any component of a relative path is excluded (for the files git lists). */
export function isExcludedPath(exclusions: Exclusions, sources: string, relative: string): boolean {
  const parts = relative.split('/').filter(Boolean);
  for (let end = 1; end <= parts.length; end++) {
    if (isExcluded(exclusions, path.join(sources, ...parts.slice(0, end)))) return true;
  }
  return false;
}
