/**
 * What never goes into /root/src, whatever SourceFileTransfer= says: kiln's own outputs, caches,
 * workspaces and build directories, and .git (except for copy-git-more). mkosi 14 meant to leave
 * these out too, but its patterns ("mkosi.output/") never matched a name and it copied them all —
 * a previous image in the configuration directory went into every development image.
 * Paths are compared as bytes (latin1 keeps each byte as one character): names need not be UTF-8.
 */
import path from 'node:path';
import { producedFiles } from '../artifacts/names.js';
import type { Config } from '../config/types.js';

/** Names excluded wherever they appear: kiln's and mkosi's workspaces, mkosi's cached images. */
const EXCLUDED_NAMES: readonly RegExp[] = [/^\.kiln-build-/, /^\.mkosi-/, /\.cache-pre-(dev|inst)$/];

/** The directories mkosi 14 and kiln detect next to the configuration (and create content in). */
const DETECTED_DIRECTORIES = ['mkosi.output', 'mkosi.cache', 'mkosi.builddir', 'mkosi.includedir', 'mkosi.installdir', 'mkosi.workspace'];

export interface Exclusions {
  /** Absolute paths left out, with everything below them, as latin1 strings of their bytes. */
  readonly paths: ReadonlySet<string>;
  /** Whether .git directories and files are copied (copy-git-more). */
  readonly keepGit: boolean;
}

const SLASH = 0x2f;

function isStrictlyInside(parent: string, file: string): boolean {
  const relative = path.relative(parent, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

const bytesOf = (file: string): string => Buffer.from(file).toString('latin1');

/** The exclusions for copying the sources at `sources` (BuildSources=). */
export function sourceExclusions(config: Config, sources: string, keepGit: boolean): Exclusions {
  const subdir = `${config.Distribution}~${config.Release}`;
  const candidates: string[] = [...producedFiles(config), ...DETECTED_DIRECTORIES.map((name) => path.join(sources, name))];
  for (const dir of [path.dirname(config.Output), config.Cache, config.BuildDirectory, config.WorkspaceDirectory, config.IncludeDirectory, config.InstallDirectory]) {
    if (dir === null) continue;
    candidates.push(dir);
    // mkosi.output/debian~bookworm: the other distributions' directories beside it go as well.
    if (path.basename(dir) === subdir) candidates.push(path.dirname(dir));
  }
  const paths = new Set(candidates.map((file) => path.resolve(file)).filter((file) => isStrictlyInside(sources, file)).map(bytesOf));
  return { paths, keepGit };
}

/** Whether an entry of the sources (its absolute path) stays out. */
export function isExcluded(exclusions: Exclusions, file: Buffer): boolean {
  const name = file.subarray(file.lastIndexOf(SLASH) + 1).toString('latin1');
  if (name === '.git' && !exclusions.keepGit) return true;
  if (EXCLUDED_NAMES.some((pattern) => pattern.test(name))) return true;
  return exclusions.paths.has(file.toString('latin1'));
}

/** Whether any component of a path relative to the sources is excluded (for the files git lists). */
export function isExcludedPath(exclusions: Exclusions, sources: string, relative: Buffer): boolean {
  const base = Buffer.from(sources.replace(/\/+$/, ''));
  for (let end = relative.indexOf(SLASH); ; end = relative.indexOf(SLASH, end + 1)) {
    const prefix = end < 0 ? relative : relative.subarray(0, end);
    if (prefix.length > 0 && isExcluded(exclusions, Buffer.concat([base, Buffer.from('/'), prefix]))) return true;
    if (end < 0) return false;
  }
}
