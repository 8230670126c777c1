/**
 * Checks on the resolved configuration that the parser cannot make line by line: settings kiln does
 * not implement (refused, never silently ignored), scripts that are not executable, combinations
 * that cannot work. All problems are collected and reported together.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { getDistribution, isSupportedDistribution } from '../distributions/index.js';
import { ConfigError, type KilnError, type Origin } from '../errors.js';
import { outputCompression } from './derived.js';
import { ParseError } from './parsers.js';
import { inheritedEpoch, parseEpoch, parseSeed } from '../reproducible.js';
import { readDetected } from './settings/auto-detect.js';
import type { ResolveContext, Setting } from './setting.js';
import { SETTING_NAMES, SETTINGS } from './settings/index.js';
import { OUTPUT_COMPRESSION, type Config, type SettingName } from './types.js';

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

const SCRIPTS = ['PrepareScript', 'PostInstallationScript', 'FinalizeScript', 'BuildScript'] as const;

export interface Problems {
  /** Settings kiln cannot build (yet). */
  readonly unsupported: readonly KilnError[];
  /** Mistakes in the configuration. */
  readonly errors: readonly KilnError[];
}

export function findProblems(config: Config, context: ResolveContext, display: (file: string) => string): Problems {
  const unsupported: KilnError[] = [];
  const errors: KilnError[] = [];
  const originOf = (name: SettingName, fallbackFile?: string | null): Origin =>
    context.originOf(name) ?? { file: fallbackFile ? display(fallbackFile) : display(context.directory) };

  for (const name of SETTING_NAMES) {
    const setting = table[name];
    const value = config[name];
    if (setting.status === 'unsupported') {
      const neutral = 'neutral' in setting ? setting.neutral : setting.resolve(undefined, context);
      if (!isDeepStrictEqual(value, neutral)) unsupported.push(refuseUnsupported(name, value, context, display));
    }
    const reason = setting.unsupported?.(value, context);
    if (reason) unsupported.push(new ConfigError(originOf(name), reason));
  }

  if (isSupportedDistribution(config.Distribution)) {
    const reason = getDistribution(config.Distribution).unsupportedRelease?.(config);
    if (reason) unsupported.push(new ConfigError(originOf('Release'), reason));
  }

  for (const name of SCRIPTS) {
    const file = config[name];
    if (file === null) continue;
    const problem = checkScript(file, display);
    if (!problem) continue;
    const origin = context.originOf(name);
    errors.push(
      origin
        ? new ConfigError(origin, `${name}=${display(file)} ${problem.message}`, { hint: problem.hint })
        : new ConfigError({ file: display(file) }, `${problem.message} (kiln runs it as ${name}=)`, { hint: problem.hint }),
    );
  }

  const compression = outputCompression(config);
  if (compression !== false && !(OUTPUT_COMPRESSION as readonly string[]).includes(compression)) {
    const name = config.CompressOutput !== null ? 'CompressOutput' : 'Compress';
    errors.push(new ConfigError(originOf(name), `${name}=${compression} cannot compress a whole output (use ${OUTPUT_COMPRESSION.join(', ')})`));
  }

  errors.push(...buildSourcesProblems(config, display, originOf));
  // mkosi 14's load_args() refuses these too.
  if (config.SshPort < 1 || config.SshPort > 65535) errors.push(new ConfigError(originOf('SshPort'), `SshPort=${config.SshPort} is not a port (1–65535)`));
  if (config.SshTimeout < 0) errors.push(new ConfigError(originOf('SshTimeout'), `SshTimeout=${config.SshTimeout} is negative (seconds, 0 or more)`));

  if (config.Bootstrapper !== null && context.isSet('Bootstrapper') && !['debian', 'ubuntu'].includes(config.Distribution)) {
    errors.push(new ConfigError(originOf('Bootstrapper'), `Bootstrapper= only applies to Debian and Ubuntu, not ${config.Distribution}`));
  }

  errors.push(...checkReproducibility(context, display));

  return { unsupported, errors };
}

/**
 * An inherited SOURCE_DATE_EPOCH or an mkosi.seed that cannot be read must stop the build: building
 * without them would give an image that only looks reproducible.
 */
function checkReproducibility(context: ResolveContext, display: (file: string) => string): KilnError[] {
  const errors: KilnError[] = [];
  const inherited = context.isSet('SourceDateEpoch') ? undefined : inheritedEpoch(context.get('Environment'), context.env);
  if (inherited) {
    try {
      parseEpoch(inherited.raw);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      const origin = inherited.from === 'Environment=' ? context.originOf('Environment') : undefined;
      errors.push(
        new ConfigError(origin ?? { file: inherited.from }, `SOURCE_DATE_EPOCH=${inherited.raw} ${error.message}`, {
          hint: 'set it to the time of the last commit, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or unset it',
        }),
      );
    }
  }
  const seedFile = context.isSet('Seed') ? null : readDetected(context, 'mkosi.seed');
  if (seedFile !== null) {
    try {
      parseSeed(seedFile);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      errors.push(new ConfigError({ file: display(path.join(context.directory, 'mkosi.seed')) }, `"${seedFile}" ${error.message}`, { hint: 'write one UUID into it (uuidgen), or remove it' }));
    }
  }
  return errors;
}

/**
 * A setting nobody wrote, whose value is a file or directory found beside the configuration
 * (mkosi.build, mkosi.reposdir/…), is refused by that file's name: the user never wrote the setting.
 */
function refuseUnsupported(name: SettingName, value: unknown, context: ResolveContext, display: (file: string) => string): KilnError {
  const origin = context.originOf(name);
  if (origin) return new ConfigError(origin, `${name}= is not supported by kiln yet`);
  const found = typeof value === 'string' ? detectedEntry(value, context.directory) : undefined;
  if (found) {
    const what = statSync(found, { throwIfNoEntry: false })?.isDirectory() ? 'directory' : 'file';
    return new ConfigError({ file: display(found) }, `kiln does not support this ${what} yet (mkosi 14 uses it as ${name}=)`, {
      hint: `move it away to build without it`,
    });
  }
  return new ConfigError({ file: display(context.directory) }, `${name}= is not supported by kiln yet`);
}

/** The mkosi.* entry of the configuration directory that `value` is, or lies in. */
function detectedEntry(value: string, directory: string): string | undefined {
  const relative = path.relative(directory, value);
  const first = relative.split(path.sep)[0] ?? '';
  return first.startsWith('mkosi.') && !path.isAbsolute(relative) ? path.join(directory, first) : undefined;
}

/** BuildSources= must be a directory wherever something reads it (mkosi 14 would fail deep in nspawn). */
function buildSourcesProblems(config: Config, display: (file: string) => string, originOf: (name: SettingName) => Origin): KilnError[] {
  const sources = config.BuildSources;
  const used = config.BuildScript !== null || config.PrepareScript !== null || config.SourceFileTransferFinal !== null;
  if (!used || sources === null) return [];
  let directory = false;
  try {
    directory = statSync(sources).isDirectory();
  } catch {
    return [new ConfigError(originOf('BuildSources'), `BuildSources=${display(sources)} does not exist`, { hint: 'BuildSources= names the directory of the sources the build script builds' })];
  }
  return directory ? [] : [new ConfigError(originOf('BuildSources'), `BuildSources=${display(sources)} is not a directory`)];
}

function checkScript(file: string, display: (file: string) => string): { message: string; hint?: string } | undefined {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return { message: 'does not exist' };
  }
  if (!stat.isFile()) return { message: 'is not a file' };
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return { message: 'is not executable', hint: `chmod +x ${display(file)}` };
  }
  return undefined;
}
