/**
 * Presets: named base configurations (presets/NAME/ in kiln's own directory, or in a directory of
 * $KILN_PRESET_PATH). A preset is data, never code: an mkosi.default, plus optional mkosi.skeleton/
 * and mkosi.extra/ trees (or .tar archives). `--preset NAME` layers it beneath the configuration:
 *   - its mkosi.default is read first, so the configuration's files and the command line override
 *     its settings and add to its lists;
 *   - its trees are copied into the image before the configuration's own, which may replace any
 *     file they put there;
 *   - a file of the configuration directory that mkosi auto-detects (mkosi.rootpw, mkosi.nspawn,
 *     mkosi.postinst…) beats the preset's setting for the same thing, as the user's own word.
 * A preset carries no scripts, so it never displaces the user's mkosi.postinst: what it enables, it
 * enables with the links `systemctl enable` would make, in its extra tree.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ParsedArguments } from './cli/arguments.js';
import type { LoadOptions } from './config/load.js';
import { closest } from './config/parsers.js';
import type { Config, SettingName } from './config/types.js';
import { UserError } from './errors.js';

/** kiln's own presets: presets/ beside dist/ (and src/). */
export const BUILTIN_PRESETS = path.resolve(import.meta.dirname, '../presets');
/** What `kiln build` builds where there is no configuration at all. */
export const DEFAULT_PRESET = 'debian-minimal';

export interface Preset {
  readonly name: string;
  readonly directory: string;
  /** Its mkosi.default. */
  readonly configFile: string;
  /** The first comment line of its mkosi.default, without "NAME: ". */
  readonly description: string;
  readonly skeletonTrees: readonly string[];
  readonly extraTrees: readonly string[];
}

/**
 * Files of a configuration directory that stand for a setting (mkosi 14's auto-detection). When the
 * directory has one, a preset's value for that setting is not applied.
 */
export const DETECTED_FILES: Readonly<Partial<Record<SettingName, readonly string[]>>> = {
  Password: ['mkosi.rootpw'],
  NSpawnSettings: ['mkosi.nspawn'],
  PrepareScript: ['mkosi.prepare'],
  PostInstallationScript: ['mkosi.postinst'],
  FinalizeScript: ['mkosi.finalize'],
  BuildScript: ['mkosi.build'],
  ImageVersion: ['mkosi.version'],
  Cache: ['mkosi.cache'],
  OutputDirectory: ['mkosi.output'],
  WorkspaceDirectory: ['mkosi.workspace'],
  BuildDirectory: ['mkosi.builddir'],
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function kindOf(file: string): 'file' | 'directory' | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : undefined;
  } catch {
    return undefined;
  }
}

/** Where presets are looked up, first match wins: $KILN_PRESET_PATH (colon-separated), then kiln's own. */
export function presetSearchPath(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const extra = (env.KILN_PRESET_PATH ?? '').split(':').filter(Boolean);
  return [...new Set([...extra.map((dir) => path.resolve(dir)), BUILTIN_PRESETS])];
}

/** mkosi.<name>/ and mkosi.<name>.tar of a directory, as the configuration's own are found. */
function treesIn(directory: string, name: string): string[] {
  return [
    kindOf(path.join(directory, name)) === 'directory' ? path.join(directory, name) : undefined,
    kindOf(path.join(directory, `${name}.tar`)) === 'file' ? path.join(directory, `${name}.tar`) : undefined,
  ].filter((tree): tree is string => tree !== undefined);
}

function describe(configFile: string, name: string): string {
  const first = readFileSync(configFile, 'utf8').split('\n').find((line) => line.startsWith('#')) ?? '';
  return first.replace(/^#\s*/, '').replace(new RegExp(`^${name.replace(/[.]/g, '\\.')}:\\s*`), '');
}

function presetAt(directory: string, name: string): Preset | undefined {
  const configFile = path.join(directory, name, 'mkosi.default');
  if (kindOf(configFile) !== 'file') return undefined;
  const dir = path.join(directory, name);
  return {
    name,
    directory: dir,
    configFile,
    description: describe(configFile, name),
    skeletonTrees: treesIn(dir, 'mkosi.skeleton'),
    extraTrees: treesIn(dir, 'mkosi.extra'),
  };
}

/** Every preset on the search path, by name (an earlier directory hides a later one's preset). */
export function listPresets(env: Readonly<Record<string, string | undefined>> = process.env): Preset[] {
  const found = new Map<string, Preset>();
  for (const directory of presetSearchPath(env)) {
    let names: string[];
    try {
      names = readdirSync(directory).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (found.has(name) || !NAME.test(name)) continue;
      const preset = presetAt(directory, name);
      if (preset) found.set(name, preset);
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function findPreset(name: string, env: Readonly<Record<string, string | undefined>> = process.env): Preset {
  const names = listPresets(env).map((preset) => preset.name);
  const list = `presets: ${names.join(', ')}`;
  if (!NAME.test(name)) throw new UserError(`"${name}" is not a preset name`, { hint: list });
  for (const directory of presetSearchPath(env)) {
    const preset = presetAt(directory, name);
    if (preset) return preset;
  }
  const suggestion = closest(name, names);
  throw new UserError(`there is no preset "${name}"`, { hint: suggestion ? `did you mean ${suggestion}? (${list})` : list });
}

/** Whether the directory holds a configuration of its own (what loadConfig would read). */
export function hasConfiguration(directory: string): boolean {
  if (kindOf(path.join(directory, 'mkosi.conf')) === 'file' || kindOf(path.join(directory, 'mkosi.default')) === 'file') return true;
  return ['mkosi.conf.d', 'mkosi.default.d'].some((dropins) => {
    try {
      return readdirSync(path.join(directory, dropins)).some((name) => kindOf(path.join(directory, dropins, name)) === 'file');
    } catch {
      return false;
    }
  });
}

/** The settings the configuration directory's own files stand for, which a preset must not set. */
export function settingsTakenByFiles(directory: string): Set<SettingName> {
  const taken = new Set<SettingName>();
  for (const [name, files] of Object.entries(DETECTED_FILES) as [SettingName, readonly string[]][]) {
    if (files.some((file) => kindOf(path.join(directory, file)) !== undefined)) taken.add(name);
  }
  return taken;
}

/** The part of LoadOptions that layers a preset beneath the configuration in `directory`. */
export function presetLayer(preset: Preset, directory: string): Pick<LoadOptions, 'baseFiles' | 'baseTrees' | 'baseYields'> {
  return {
    baseFiles: [preset.configFile],
    baseTrees: { SkeletonTrees: preset.skeletonTrees, ExtraTrees: preset.extraTrees },
    baseYields: settingsTakenByFiles(directory),
  };
}

/**
 * The preset a command uses when it names none: the default one, but only where there is nothing
 * else to go by — no configuration file in the directory, no @FILE or --default, and no
 * Distribution= on the command line (whoever names a distribution wants its plain defaults).
 */
export function implicitPreset(
  args: Pick<ParsedArguments, 'preset' | 'defaultPath' | 'configFiles' | 'assignments'>,
  directory: string,
): string | undefined {
  if (args.preset !== undefined || args.defaultPath !== undefined || args.configFiles.length > 0) return undefined;
  if (args.assignments.some((assignment) => assignment.name === 'Distribution')) return undefined;
  return hasConfiguration(directory) ? undefined : DEFAULT_PRESET;
}

/** The one line that says the default preset is being used, and what it builds. */
export function implicitPresetNote(config: Pick<Config, 'Distribution' | 'Release' | 'Format'>, shownDirectory: string): string {
  return `kiln: no mkosi.default in ${shownDirectory}, so kiln uses its ${DEFAULT_PRESET} preset (${config.Distribution} ${config.Release}, Format=${config.Format}); \`kiln init\` writes a configuration to start from`;
}
