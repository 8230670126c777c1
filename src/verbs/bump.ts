/**
 * `kiln bump` and `--auto-bump`, as mkosi 14's bump_image_version(): ImageVersion= (mkosi.version by
 * default) with its last dot-separated number increased by one, written to mkosi.version in the
 * configuration directory, where the next build reads it.
 */
import path from 'node:path';
import type { Loaded } from '../config/load.js';
import { formatOrigin } from '../errors.js';
import { info, warn } from '../log.js';
import { writeFileAtomically } from '../util/write-atomically.js';
import type { Invocation, Verb } from './types.js';

/**
 * A number as Python's int() reads it, which mkosi 14 uses: blanks around it, a sign, underscores
 * between digits, and the decimal digits of any script. Undefined where int() would refuse it.
 */
export function pythonInt(text: string): bigint | undefined {
  const match = /^\s*([+-]?)(\p{Nd}+(?:_\p{Nd}+)*)\s*$/u.exec(text);
  if (!match) return undefined;
  // Unicode's digits come in runs of ten from zero: a digit's value is its place in its run.
  const value = (digit: string): number => {
    let start = digit.codePointAt(0)!;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start -= 1;
    return (digit.codePointAt(0)! - start) % 10;
  };
  const digits = [...match[2]!.replaceAll('_', '')].map(value).join('');
  return BigInt(`${match[1]}${digits}`);
}

/** The version after `current`, and mkosi 14's sentence saying how it was found. Pure. */
export function nextVersion(current: string | null): { version: string; message: string } {
  if (current === null || current === '') return { version: '1', message: 'No version configured so far, starting with version 1.' };
  const parts = current.split('.');
  const last = pythonInt(parts.at(-1)!);
  if (last === undefined) {
    const version = `${current}.2`;
    return { version, message: `Last component of current version is not a decimal integer, appending '.2', bumping '${current}' → '${version}'.` };
  }
  const version = [...parts.slice(0, -1), String(last + 1n)].join('.');
  return { version, message: `Increasing last component of version by one, bumping '${current}' → '${version}'.` };
}

/** Writes the next version to mkosi.version beside the configuration. */
export async function bumpVersion(loaded: Loaded): Promise<void> {
  const { version, message } = nextVersion(loaded.config.ImageVersion);
  const file = path.join(loaded.directory, 'mkosi.version');
  await writeFileAtomically(file, `${version}\n`, 0o644);
  info(message);
  const origin = loaded.context.originOf('ImageVersion');
  if (origin && origin.file !== 'command line') {
    warn(`ImageVersion= in ${formatOrigin(origin)} comes before mkosi.version: the next build still uses ${loaded.config.ImageVersion}, not ${version}`);
  }
}

export const bump: Verb = {
  doc: 'Increase the last number of ImageVersion= and write it to mkosi.version',
  origin: 'mkosi',
  async run(invocation: Invocation) {
    await bumpVersion(invocation.config());
  },
};
