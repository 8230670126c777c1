/**
 * The images of `kiln --all`, read as mkosi 14 reads them: every entry of mkosi.files/ (or
 * --all-directory=) whose name starts with `mkosi.` is one complete configuration, read alone —
 * no mkosi.default, no drop-ins — with the trees and scripts found beside it in the configuration
 * directory (mkosi.extra/, mkosi.postinst, mkosi.cache/…) and the command line applied to each.
 *
 * Where kiln differs: the files are taken in name order (mkosi 14 takes them in the directory's
 * order, which is arbitrary), an entry that is not a file is skipped with a warning (mkosi 14 fails
 * on it), and two images that would write the same file are refused before anything is built
 * (mkosi 14 lets the second overwrite the first).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { producedFiles } from '../artifacts/names.js';
import type { Loaded } from '../config/load.js';
import { closest } from '../config/parsers.js';
import { ConfigErrors, KilnError, UserError } from '../errors.js';

export interface Image {
  /** The file's name without `mkosi.`: what --image and the progress lines call it. */
  readonly name: string;
  /** The configuration file, absolute. */
  readonly file: string;
  readonly loaded: Loaded;
}

const PREFIX = 'mkosi.';

export function imageName(file: string): string {
  const base = path.basename(file);
  return base.length > PREFIX.length ? base.slice(PREFIX.length) : base;
}

/** The configuration files of `--all`, sorted; `display` shows paths in messages. */
export function findImageFiles(allDirectory: string, display: (file: string) => string, warnings: string[]): string[] {
  let names: string[];
  try {
    if (!statSync(allDirectory).isDirectory()) throw new Error('not a directory');
    names = readdirSync(allDirectory);
  } catch {
    throw new UserError(`--all: the directory ${display(allDirectory)} does not exist`, {
      hint: 'put one mkosi.NAME file per image into mkosi.files/, or name the directory with --all-directory=',
    });
  }
  const files: string[] = [];
  for (const name of names.filter((n) => n.startsWith(PREFIX)).sort()) {
    const file = path.join(allDirectory, name);
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) files.push(file);
    else warnings.push(`--all: ${display(file)} is not a file; skipped`);
  }
  if (files.length === 0) {
    throw new UserError(`--all: ${display(allDirectory)} has no mkosi.* files`, {
      hint: 'each image is one file named mkosi.NAME (mkosi.debian, mkosi.fedora…) in that directory',
    });
  }
  return files;
}

/** Loads every file; all configuration problems of all files are reported together. */
export function loadImages(files: readonly string[], load: (file: string) => Loaded): Image[] {
  const images: Image[] = [];
  const problems: KilnError[] = [];
  for (const file of files) {
    try {
      images.push({ name: imageName(file), file, loaded: load(file) });
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      problems.push(...(error instanceof ConfigErrors ? error.errors : [error]));
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new ConfigErrors(problems);
  return images;
}

/** The images --image names (by name or file name), in the order of the directory; all without --image. */
export function selectImages(images: readonly Image[], wanted: readonly string[]): Image[] {
  if (wanted.length === 0) return [...images];
  const names = images.map((image) => image.name);
  const unknown = wanted.filter((want) => !images.some((image) => image.name === want || path.basename(image.file) === want));
  if (unknown.length > 0) {
    const suggestion = closest(unknown[0]!, names);
    throw new UserError(`--image: no image ${unknown.map((name) => `"${name}"`).join(', ')} in --all's directory`, {
      hint: `${suggestion ? `did you mean ${suggestion}? ` : ''}images: ${names.join(', ')}`,
    });
  }
  return images.filter((image) => wanted.includes(image.name) || wanted.includes(path.basename(image.file)));
}

/**
 * Refuses images that would write the same file (mkosi 14 lets the last one win; built side by
 * side it would be a race), naming both images and the file.
 */
export function checkDistinctOutputs(images: readonly Image[], display: (file: string) => string): void {
  const owner = new Map<string, string>();
  const clashes = new Map<string, string[]>();
  for (const image of images) {
    for (const file of producedFiles(image.loaded.config)) {
      const first = owner.get(file);
      if (first === undefined) owner.set(file, image.name);
      else if (first !== image.name) clashes.set(`${first} and ${image.name}`, [...(clashes.get(`${first} and ${image.name}`) ?? []), display(file)]);
    }
  }
  const problems = [...clashes].map(
    ([pair, files]) =>
      new UserError(`images ${pair} would both write ${files.join(', ')}`, {
        hint: 'give each file of mkosi.files/ its own ImageId=, Output= or OutputDirectory=',
      }),
  );
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new ConfigErrors(problems);
}
