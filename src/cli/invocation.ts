/**
 * What a verb gets from the command line: the parsed arguments and the configuration, loaded on
 * first use — one configuration, or with --all one per file of mkosi.files/ (all/images.ts).
 */
import path from 'node:path';
import { findImageFiles, loadImages, selectImages, type Image } from '../all/images.js';
import { displayPath, loadConfig, type LoadOptions, type Loaded } from '../config/load.js';
import { UserError } from '../errors.js';
import { info, warn } from '../log.js';
import { findPreset, implicitPreset, implicitPresetNote, presetLayer } from '../presets.js';
import type { Invocation } from '../verbs/types.js';
import type { ParsedArguments } from './arguments.js';

/** Options that only mean something with --all, refused without it rather than ignored. */
function checkAllOptions(args: ParsedArguments): void {
  if (args.all) {
    // mkosi 14's own rule: each file of --all is the whole configuration.
    if (args.defaultPath !== undefined) throw new UserError('--all and --config= may not be combined (as in mkosi 14)', { hint: 'with --all, each file of mkosi.files/ is a whole configuration' });
    return;
  }
  const only = [
    args.allDirectory !== undefined && '--all-directory',
    args.images.length > 0 && '--image',
    args.jobs !== undefined && '--jobs',
    args.failFast && '--fail-fast',
  ].filter(Boolean);
  if (only.length > 0) throw new UserError(`${only.join(', ')} only ${only.length === 1 ? 'applies' : 'apply'} with --all`, { hint: 'kiln --all --image NAME build builds one image of mkosi.files/' });
}

export function makeInvocation(args: ParsedArguments, cwd: string): Invocation {
  checkAllOptions(args);
  const directory = path.resolve(cwd, args.directory ?? '.');
  const display = (file: string): string => displayPath(file, cwd);
  // The default preset stands in for a missing configuration; with --all, mkosi.files/ is the configuration.
  const implicit = args.all ? undefined : implicitPreset(args, directory);
  const preset = args.preset ?? implicit;
  const load = (extra: Partial<LoadOptions> = {}): Loaded =>
    loadConfig({
      directory,
      defaultPath: args.defaultPath,
      extraFiles: args.configFiles.map((file) => path.resolve(cwd, file)),
      extraFilesAt: args.configFilesAt,
      commandLine: args.assignments,
      cwd,
      ...(preset === undefined ? {} : presetLayer(findPreset(preset), directory)),
      ...extra,
    });

  let images: Image[] | undefined;
  const loadAll = (): Image[] => {
    const warnings: string[] = [];
    const files = findImageFiles(path.resolve(directory, args.allDirectory ?? 'mkosi.files'), display, warnings);
    for (const message of warnings) warn(message);
    return selectImages(loadImages(files, (file) => load({ file })), args.images);
  };

  let loaded: Loaded | undefined;
  const loadOne = (): Loaded => {
    if (args.all) {
      const all = (images ??= loadAll());
      if (all.length === 1) return all[0]!.loaded;
      throw new UserError(`kiln ${args.verb} works on one image, and --all has ${all.length}: ${all.map((image) => image.name).join(', ')}`, {
        hint: `pick one with --image NAME (kiln --all --image ${all[0]!.name} ${args.verb})`,
      });
    }
    const result = load();
    if (implicit !== undefined) info(implicitPresetNote(result.config, directory === cwd ? 'this directory' : display(directory)));
    return result;
  };

  return {
    args: { ...args, preset },
    cwd,
    directory,
    display,
    config: () => (loaded ??= loadOne()),
    images: () => (images ??= loadAll()),
  };
}
