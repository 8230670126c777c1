/**
 * Finds and layers the configuration the way mkosi 14 does:
 *   --default PATH, else mkosi.conf, else mkosi.default (in the -C directory);
 *   then every file in mkosi.conf.d/ and mkosi.default.d/, sorted;
 *   then mkosi.conf.d/<distribution>/ and mkosi.default.d/<distribution>/;
 *   then the command line, which wins.
 * Unlike mkosi 14, the drop-in directories are read from the -C directory, not the shell's.
 * For `--all`, each file of mkosi.files/ is read alone instead (LoadOptions.file), as mkosi 14 does.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatOrigin, UserError, type Origin } from '../errors.js';
import { applyAssignment, type Assignment, type RawState } from './assign.js';
import { detectHost, type Host } from './host.js';
import { decodeConfigText, readIni, type IniDocument, type IniEntry } from './ini-reader.js';
import { lookupKey, RETIRED_KEYS, suggestKey, suggestSection } from './keys.js';
import { createResolveContext, resolveConfig, type Resolved } from './resolve.js';
import { SECTION_ALIASES, SECTIONS, type Setting } from './setting.js';
import { SETTINGS } from './settings/index.js';
import type { Config, SettingName } from './types.js';

export interface LoadOptions {
  /** The configuration directory (-C), absolute. */
  readonly directory: string;
  /** --default / --config, relative to the configuration directory. */
  readonly defaultPath?: string;
  /**
   * `--all`: this one file is the whole configuration (no mkosi.default, no drop-ins, no
   * distribution drop-ins); paths in it are still relative to the configuration directory.
   */
  readonly file?: string;
  /** Extra files named on the command line with @FILE. */
  readonly extraFiles?: readonly string[];
  /**
   * For each extra file, how many command-line assignments came before it: mkosi 14 reads @FILE where
   * it stands among the options. Without it, the files come before all command-line options.
   */
  readonly extraFilesAt?: readonly number[];
  /** Files applied before everything else (a preset); relative paths in them start from their own directory. */
  readonly baseFiles?: readonly string[];
  /** Settings the base files may not set: the directory has its own file for them (mkosi.rootpw, mkosi.nspawn…). */
  readonly baseYields?: ReadonlySet<SettingName>;
  /** Trees copied into the image before the configuration's own (a preset's mkosi.skeleton/, mkosi.extra/). */
  readonly baseTrees?: { readonly SkeletonTrees: readonly string[]; readonly ExtraTrees: readonly string[] };
  readonly commandLine: readonly Assignment[];
  readonly host?: Host;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For messages: file names are shown relative to this directory. */
  readonly cwd?: string;
}

export interface Loaded extends Resolved {
  /** The files that were read, in order. */
  readonly files: readonly string[];
  readonly directory: string;
}

const DROPIN_DIRS = ['mkosi.conf.d', 'mkosi.default.d'] as const;
const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

export function loadConfig(options: LoadOptions): Loaded {
  const env = options.env ?? process.env;
  const host = options.host ?? detectHost();
  const cwd = options.cwd ?? process.cwd();
  const display = (file: string): string => displayPath(file, cwd);
  const warnings: string[] = [];
  if (!isDirectory(options.directory)) {
    const what = existsSync(options.directory) ? 'is not a directory' : 'does not exist';
    throw new UserError(`the configuration directory ${display(options.directory)} ${what}`, {
      hint: '-C takes the directory that holds mkosi.default',
    });
  }

  const read = (file: string): IniDocument => {
    const document = readConfigFile(file, display(file));
    warnings.push(...sectionWarnings(document));
    return document;
  };
  const baseFiles = options.baseFiles ?? [];
  const own = options.file !== undefined ? [options.file] : findConfigFiles(options.directory, options.defaultPath, display, warnings);
  const files = [...baseFiles, ...own];
  const documents = files.map(read);
  const baseDirs = new Map(documents.slice(0, baseFiles.length).map((document, k) => [document, path.dirname(baseFiles[k]!)]));
  const extraDocuments = (options.extraFiles ?? []).map(read);

  const build = (extra: readonly IniDocument[]): RawState => {
    const state: RawState = new Map();
    const context = { baseDir: options.directory };
    for (const document of [...documents, ...extra]) {
      const baseDir = baseDirs.get(document);
      for (const assignment of assignmentsOf(document)) {
        if (baseDir !== undefined && options.baseYields?.has(assignment.name)) continue;
        applyAssignment(state, assignment, baseDir !== undefined ? { baseDir } : context);
      }
    }
    const commandLine = options.commandLine;
    const applyFilesAt = (position: number): void => {
      extraDocuments.forEach((document, k) => {
        const at = Math.min(options.extraFilesAt?.[k] ?? 0, commandLine.length);
        if (at === position) for (const assignment of assignmentsOf(document)) applyAssignment(state, assignment, context);
      });
    };
    commandLine.forEach((assignment, position) => {
      applyFilesAt(position);
      applyAssignment(state, assignment, context);
    });
    applyFilesAt(commandLine.length);
    return state;
  };

  let state = build([]);
  const distribution = createResolveContext({ state, directory: options.directory, host, env }).get('Distribution');
  const distributionFiles =
    options.file !== undefined ? [] : DROPIN_DIRS.flatMap((dir) => listFiles(path.join(options.directory, dir, distribution)));
  if (distributionFiles.length > 0) {
    state = build(distributionFiles.map(read));
    files.push(...distributionFiles);
  }

  const resolved = resolveConfig({ state, directory: options.directory, host, env });
  return {
    ...resolved,
    config: withBaseTrees(resolved.config, options.baseTrees),
    warnings: [...warnings, ...resolved.warnings],
    files,
    directory: options.directory,
  };
}

/** Base trees go first, so that the configuration's own trees can replace any file they put there. */
function withBaseTrees(config: Config, trees: LoadOptions['baseTrees']): Config {
  if (!trees || (trees.SkeletonTrees.length === 0 && trees.ExtraTrees.length === 0)) return config;
  return Object.freeze({
    ...config,
    SkeletonTrees: Object.freeze([...trees.SkeletonTrees, ...config.SkeletonTrees]),
    ExtraTrees: Object.freeze([...trees.ExtraTrees, ...config.ExtraTrees]),
  });
}

function findConfigFiles(directory: string, defaultPath: string | undefined, display: (f: string) => string, warnings: string[]): string[] {
  const files: string[] = [];
  if (defaultPath !== undefined) {
    const file = path.resolve(directory, defaultPath);
    if (!existsSync(file)) {
      throw new UserError(`no configuration file at ${display(file)}`, { hint: '--default takes a path relative to the -C directory' });
    }
    files.push(file);
  } else {
    const conf = path.join(directory, 'mkosi.conf');
    const legacy = path.join(directory, 'mkosi.default');
    if (isFile(conf)) {
      files.push(conf);
      if (isFile(legacy) && !isSameFile(legacy, conf)) warnings.push(`${display(legacy)} is ignored because ${display(conf)} exists (as in mkosi 14)`);
    } else if (isFile(legacy)) {
      files.push(legacy);
    }
  }
  for (const dir of DROPIN_DIRS) files.push(...listFiles(path.join(directory, dir)));
  return files;
}

/** Regular files of a drop-in directory, any name, sorted (mkosi 14 reads every file). */
function listFiles(dir: string): string[] {
  if (!isDirectory(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => path.join(dir, name))
    .filter(isFile);
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist',
  EISDIR: 'is a directory, not a configuration file',
  EACCES: 'cannot be read (permission denied)',
};

export function readConfigFile(file: string, shown: string): IniDocument {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = READ_ERRORS[code ?? ''] ?? `cannot be read (${code ?? String(error)})`;
    throw new ConfigError({ file: shown }, reason);
  }
  return readIni(shown, decodeConfigText(shown, bytes));
}

/**
 * mkosi 14 ignores section names: a key means the same in any section. An unknown section is read
 * the same way, with a warning (a real configuration has RootSize= under [Partitons]).
 */
function sectionWarnings(document: IniDocument): string[] {
  const known = (name: string): boolean =>
    name === 'DEFAULT' || (SECTIONS as readonly string[]).includes(name) || name in SECTION_ALIASES;
  return document.sections
    .filter((section) => !known(section.name))
    .map((section) => {
      const suggestion = suggestSection(section.name) ?? sectionOfKeys(document, section.name);
      const advice = suggestion ? `did you mean [${suggestion}]?` : `sections are ${SECTIONS.map((s) => `[${s}]`).join(' ')}`;
      return `${formatOrigin({ file: document.file, line: section.line })}: unknown section [${section.name}]: its keys are read anyway, as mkosi 14 reads them; ${advice}`;
    });
}

/** The one section every key of this section belongs to, if there is one. */
function sectionOfKeys(document: IniDocument, name: string): string | undefined {
  const sections = new Set(
    document.entries.filter((entry) => entry.section === name).map((entry) => {
      const ref = lookupKey(entry.key);
      return ref ? table[ref.name].section : undefined;
    }),
  );
  const [only] = sections;
  return sections.size === 1 && only ? only : undefined;
}

/** The document's entries as assignments, with mkosi 14's treatment of sections. */
function assignmentsOf(document: IniDocument): Assignment[] {
  const entries = orderLikeConfigparser(document);
  return entries.map((entry) => {
    const origin: Origin = { file: document.file, line: entry.line };
    const retired = RETIRED_KEYS[entry.key];
    if (retired) throw new ConfigError(origin, retired);
    const ref = lookupKey(entry.key);
    if (!ref) {
      const suggestion = suggestKey(entry.key);
      throw new ConfigError(origin, `unknown key ${entry.key}=`, {
        hint: suggestion ? `did you mean ${suggestion}=?` : 'see `kiln help` for the list of settings',
      });
    }
    const setting = table[ref.name];
    if (setting.commandLineOnly) {
      throw new ConfigError(origin, `${entry.key}= can only be given on the command line (${setting.flags.join(', ')})`);
    }
    return { name: ref.name, raw: entry.value, invert: ref.invert, origin, spelling: `${entry.key}=` };
  });
}

/**
 * The entries in the order mkosi 14 turns them into options: configparser's sections in file order,
 * except that an old [Packages] (without a [Content]) is renamed to [Content] and so moves last;
 * each section starts with the [DEFAULT] keys (a key the section sets itself takes the default's
 * place); [DEFAULT] on its own applies nothing.
 */
function orderLikeConfigparser(document: IniDocument): IniEntry[] {
  const defaults = document.entries.filter((e) => e.section === 'DEFAULT');
  let sections = document.sections.map((s) => s.name).filter((name) => name !== 'DEFAULT');
  if (sections.includes('Packages') && !sections.includes('Content')) {
    sections = [...sections.filter((name) => name !== 'Packages'), 'Packages'];
  }
  const ordered: IniEntry[] = [];
  for (const name of sections) {
    const own = document.entries.filter((e) => e.section === name);
    const overridden = new Set<IniEntry>();
    for (const fallback of defaults) {
      const mine = own.find((e) => e.key === fallback.key);
      if (mine) overridden.add(mine);
      ordered.push(mine ?? fallback);
    }
    ordered.push(...own.filter((e) => !overridden.has(e)));
  }
  return ordered;
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** mkosi.default as a link to mkosi.conf (to serve old and new mkosi alike) is not a second file. */
function isSameFile(a: string, b: string): boolean {
  const [one, two] = [statSync(a), statSync(b)];
  return one.dev === two.dev && one.ino === two.ino;
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

