/**
 * The command line, with mkosi 14's option names and meanings: every setting's flags from the
 * settings table, plus the options that only exist on the command line (-C, --default, …).
 * Options may come before or after the verb; for verbs that run a command (shell, boot) the first
 * argument that is not a kiln option starts that command.
 */
import { ConfigError, UserError, type Origin } from '../errors.js';
import type { Assignment } from '../config/assign.js';
import { lookupFlag, suggestFlag } from '../config/keys.js';
import { closest } from '../config/parsers.js';
import type { Setting } from '../config/setting.js';
import { SETTINGS } from '../config/settings/index.js';
import type { SettingName } from '../config/types.js';

/** Options that are not settings. `value: true` means the option takes an argument. */
export const COMMAND_LINE_OPTIONS = {
  directory: { flags: ['-C', '--directory'], value: true, metavar: 'PATH', doc: 'Change to this directory before doing anything' },
  defaultPath: { flags: ['--default', '--config'], value: true, metavar: 'PATH', doc: 'Read this configuration file instead of mkosi.default' },
  all: {
    flags: ['-a', '--all'],
    value: false,
    doc: 'Every mkosi.* file of mkosi.files/ is one image; build, summary and clean take them all (unlike mkosi 14: in name order, side by side, clashing outputs refused, the others go on when one fails; see docs/ci.md)',
  },
  allDirectory: { flags: ['--all-directory'], value: true, metavar: 'PATH', doc: 'Read the files of --all from this directory instead of mkosi.files/' },
  image: { flags: ['--image'], value: true, metavar: 'NAME', doc: 'kiln: with --all, only this image (mkosi.NAME; repeat or separate with commas for more)' },
  jobs: { flags: ['-j', '--jobs'], value: true, metavar: 'N', doc: 'kiln: with --all, build N images at once (default: one per core, as memory allows)' },
  failFast: { flags: ['--fail-fast'], value: false, doc: 'kiln: with --all, stop at the first image that fails, as mkosi 14 does (default: build the others)' },
  autoBump: { flags: ['-B', '--auto-bump'], value: false, doc: 'Bump mkosi.version after a successful build' },
  debug: { flags: ['--debug'], value: true, metavar: 'SELECTOR', doc: 'Debug output: run (show every command), workspace (keep it)' },
  preset: { flags: ['--preset'], value: true, metavar: 'NAME', doc: 'kiln: start from a named preset (see presets/)' },
  json: { flags: ['--json'], value: false, doc: 'kiln: summary prints JSON' },
  install: { flags: ['--install'], value: false, doc: 'kiln: doctor installs missing host packages with apt-get' },
  version: { flags: ['--version'], value: false, doc: 'Show the version' },
  help: { flags: ['-h', '--help'], value: false, doc: 'Show this help' },
} as const;

type OptionName = keyof typeof COMMAND_LINE_OPTIONS;

export interface ParsedArguments {
  readonly verb: string;
  /** Arguments after the verb for shell/boot, or the positional arguments of kiln's own verbs. */
  readonly commandLine: readonly string[];
  readonly assignments: readonly Assignment[];
  /** `@FILE` arguments: extra configuration files, as in mkosi 14. */
  readonly configFiles: readonly string[];
  /** For each of configFiles, how many assignments came before it (it applies there, as in mkosi 14). */
  readonly configFilesAt: readonly number[];
  readonly directory: string | undefined;
  readonly defaultPath: string | undefined;
  readonly all: boolean;
  readonly allDirectory: string | undefined;
  /** --image: the images of --all to use (empty: all of them). */
  readonly images: readonly string[];
  readonly jobs: string | undefined;
  readonly failFast: boolean;
  readonly autoBump: boolean;
  readonly debug: readonly string[];
  readonly preset: string | undefined;
  readonly json: boolean;
  readonly install: boolean;
  readonly version: boolean;
  readonly help: boolean;
}

export interface VerbShape {
  /**
   * Everything after the verb is a command to run (shell, boot); 'after-word' starts it only at a
   * word that is not an option, or after `--` (build: an unknown option stays an error there).
   */
  readonly takesCommandLine?: boolean | 'after-word';
  /** The verb takes positional arguments of its own (init DIR, verify DIR). */
  readonly takesArguments?: boolean;
}

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;
const OPTION_BY_FLAG = new Map<string, OptionName>();
for (const [name, option] of Object.entries(COMMAND_LINE_OPTIONS)) {
  for (const flag of option.flags) OPTION_BY_FLAG.set(flag, name as OptionName);
}
/** mkosi 14's hidden --xz meant --compress-output=xz. */
const FLAG_SHORTHANDS: Readonly<Record<string, [string, string]>> = { '--xz': ['--compress-output', 'xz'] };

export function parseArguments(argv: readonly string[], verbs: Readonly<Record<string, VerbShape>>, defaultVerb = 'build'): ParsedArguments {
  const origin: Origin = { file: 'command line' };
  const assignments: Assignment[] = [];
  const configFiles: string[] = [];
  const configFilesAt: number[] = [];
  const positionals: string[] = [];
  const options: Record<string, string | boolean | string[] | undefined> = { debug: [], image: [] };
  let verb: string | undefined;
  let commandLine: string[] | undefined;

  const setOption = (name: OptionName, value: string | undefined): void => {
    if (name === 'debug' || name === 'image') (options[name] as string[]).push(...(value ?? '').split(',').filter(Boolean));
    else options[name] = value ?? true;
  };

  const addSetting = (flag: string, raw: string | undefined, spelling: string): void => {
    const ref = lookupFlag(flag);
    if (!ref) throw new Error(`internal: ${flag} is not a setting flag`);
    assignments.push({ name: ref.name, raw, invert: ref.invert, origin, spelling });
  };

  /** Handles one option starting at argv[i]; returns how many arguments it used, or 0 if it is no kiln option. */
  const takeOption = (i: number): number => {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      let flag = eq < 0 ? arg : arg.slice(0, eq);
      let value = eq < 0 ? undefined : arg.slice(eq + 1);
      const shorthand = FLAG_SHORTHANDS[flag];
      if (shorthand) [flag, value] = shorthand;
      const option = OPTION_BY_FLAG.get(flag);
      if (option) {
        if (!COMMAND_LINE_OPTIONS[option].value) {
          if (value !== undefined) throw new ConfigError(origin, `${flag} takes no value`);
          setOption(option, undefined);
          return 1;
        }
        if (value !== undefined) {
          setOption(option, value);
          return 1;
        }
        if (next === undefined) throw new ConfigError(origin, `${flag} needs a value`);
        setOption(option, next);
        return 2;
      }
      const ref = lookupFlag(flag);
      if (!ref) return 0;
      const { kind } = table[ref.name];
      if (value !== undefined) {
        addSetting(flag, value, flag);
        return 1;
      }
      if (kind.type === 'count') {
        addSetting(flag, undefined, flag);
        return 1;
      }
      if (kind.type === 'scalar' && 'bare' in kind) {
        if (next !== undefined && kind.acceptsNext?.(next)) {
          addSetting(flag, next, flag);
          return 2;
        }
        addSetting(flag, undefined, flag);
        return 1;
      }
      if (next === undefined) throw new ConfigError(origin, `${flag} needs a value`);
      addSetting(flag, next, flag);
      return 2;
    }
    if (arg.startsWith('-') && arg.length > 1) return takeShortOptions(i);
    return 0;
  };

  /** `-f`, `-ff`, `-fi`, `-dfedora`, `-d fedora`, `-byes`. */
  const takeShortOptions = (i: number): number => {
    const arg = argv[i]!;
    for (let j = 1; j < arg.length; j++) {
      const flag = `-${arg[j]}`;
      const rest = arg.slice(j + 1);
      const option = OPTION_BY_FLAG.get(flag);
      const ref = option ? undefined : lookupFlag(flag);
      if (!option && !ref) {
        if (j === 1) return 0;
        throw new ConfigError(origin, `unknown option ${flag} in ${arg}`);
      }
      const needsValue = option
        ? COMMAND_LINE_OPTIONS[option].value
        : table[ref!.name].kind.type === 'list' || (table[ref!.name].kind.type === 'scalar' && !('bare' in table[ref!.name].kind));
      if (needsValue) {
        const value = rest !== '' ? rest : argv[i + 1];
        if (value === undefined) throw new ConfigError(origin, `${flag} needs a value`);
        if (option) setOption(option, value);
        else addSetting(flag, value, flag);
        return rest !== '' ? 1 : 2;
      }
      const kind = ref ? table[ref.name].kind : undefined;
      if (kind?.type === 'scalar' && rest !== '' && kind.acceptsNext?.(rest)) {
        addSetting(flag, rest, flag);
        return 1;
      }
      // As argparse's nargs="?": the last flag of a group may take its value from the next argument (-b no).
      const next = argv[i + 1];
      if (kind?.type === 'scalar' && rest === '' && next !== undefined && kind.acceptsNext?.(next)) {
        addSetting(flag, next, flag);
        return 2;
      }
      if (option) setOption(option, undefined);
      else addSetting(flag, undefined, flag);
    }
    return 1;
  };

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (commandLine) {
      commandLine.push(arg);
      i++;
      continue;
    }
    if (arg === '--') {
      const rest = argv.slice(i + 1);
      if (verb === undefined && rest.length > 0) {
        verb = checkVerb(rest[0]!, verbs);
        commandLine = rest.slice(1);
      } else {
        commandLine = rest;
      }
      break;
    }
    if (arg.startsWith('@') && arg.length > 1) {
      configFiles.push(arg.slice(1));
      configFilesAt.push(assignments.length);
      i++;
      continue;
    }
    const used = takeOption(i);
    if (used > 0) {
      i += used;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      if (verb !== undefined && verbs[verb]?.takesCommandLine === true) {
        commandLine = [];
        continue;
      }
      const suggestion = arg.startsWith('--') ? suggestFlag(arg.split('=')[0]!) : undefined;
      throw new ConfigError(origin, `unknown option ${arg.split('=')[0]}`, {
        hint: suggestion ? `did you mean ${suggestion}?` : 'see kiln --help',
      });
    }
    if (verb === undefined) {
      verb = checkVerb(arg, verbs);
      i++;
      continue;
    }
    if (verbs[verb]?.takesCommandLine) {
      commandLine = [];
      continue;
    }
    positionals.push(arg);
    i++;
  }

  const finalVerb = verb ?? defaultVerb;
  const shape = verbs[finalVerb] ?? {};
  if (positionals.length > 0 && !shape.takesArguments) {
    throw new UserError(`unexpected argument "${positionals[0]}" after the verb ${finalVerb}`, {
      hint: 'only shell and boot take a command line; options may come before or after the verb',
    });
  }
  if ((commandLine?.length ?? 0) > 0 && !shape.takesCommandLine && !shape.takesArguments) {
    throw new UserError(`the verb ${finalVerb} takes no command line ("${commandLine![0]}")`);
  }

  return {
    verb: finalVerb,
    commandLine: shape.takesArguments ? [...positionals, ...(commandLine ?? [])] : (commandLine ?? []),
    assignments,
    configFiles,
    configFilesAt,
    directory: options.directory as string | undefined,
    defaultPath: options.defaultPath as string | undefined,
    all: options.all === true,
    allDirectory: options.allDirectory as string | undefined,
    images: options.image as string[],
    jobs: options.jobs as string | undefined,
    failFast: options.failFast === true,
    autoBump: options.autoBump === true,
    debug: options.debug as string[],
    preset: options.preset as string | undefined,
    json: options.json === true,
    install: options.install === true,
    version: options.version === true,
    help: options.help === true,
  };
}

function checkVerb(word: string, verbs: Readonly<Record<string, VerbShape>>): string {
  if (Object.hasOwn(verbs, word)) return word;
  const suggestion = closest(word, Object.keys(verbs));
  throw new UserError(`unknown verb "${word}"`, {
    hint: suggestion ? `did you mean ${suggestion}? (verbs: ${Object.keys(verbs).join(', ')})` : `verbs: ${Object.keys(verbs).join(', ')}`,
  });
}
