/**
 * Helpers for mkosi's auto-detected files next to the configuration (mkosi.extra/, mkosi.postinst…)
 * and for the `<distribution>~<release>` subdirectories mkosi 14 adds to output, cache and build dirs.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ResolveContext } from '../setting.js';

export type EntryKind = 'file' | 'directory' | 'any';

export function entryKind(file: string): 'file' | 'directory' | 'other' | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other';
  } catch {
    return undefined;
  }
}

/** The absolute path of `name` in the configuration directory, if it exists as the given kind. */
export function detect(context: ResolveContext, name: string, kind: EntryKind = 'any'): string | null {
  const file = path.join(context.directory, name);
  const found = entryKind(file);
  if (found === undefined) return null;
  return kind === 'any' || found === kind ? file : null;
}

/** Default for a path setting: the auto-detected file or directory, else unset. */
export function detected(name: string, kind: EntryKind = 'any') {
  return (context: ResolveContext): string | null => detect(context, name, kind);
}

/** mkosi 14 keeps outputs, caches and build dirs of each distribution and release apart. */
export function distributionSubdir(context: ResolveContext): string {
  return `${context.get('Distribution')}~${context.get('Release')}`;
}

/**
 * An explicit directory gets the subdirectory appended; otherwise the auto-detected mkosi.<name>/
 * directory (with the subdirectory) is used if it exists.
 */
export function withDistributionSubdir(autoName: string) {
  return {
    default: (context: ResolveContext): string | null => {
      const found = detect(context, autoName, 'directory');
      return found ? path.join(found, distributionSubdir(context)) : null;
    },
    fromRaw: (raw: string | null, context: ResolveContext): string | null =>
      raw === null ? null : path.join(raw, distributionSubdir(context)),
  };
}

/** First line-stripped content of a small file next to the configuration (mkosi.version, mkosi.rootpw). */
export function readDetected(context: ResolveContext, name: string): string | null {
  const file = detect(context, name, 'file');
  return file ? readFileSync(file, 'utf8').trim() : null;
}
