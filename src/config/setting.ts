/**
 * The shape of one entry of the settings table, and the small constructors the table is written
 * with. A setting knows how its text is parsed (scalar, list, counter), how its final value is
 * resolved (default, auto-detected files, derived values) and whether kiln supports it.
 */
import type { Origin } from '../errors.js';
import type { Host } from './host.js';
import {
  ParseError,
  parseBoolean,
  parseBooleanOr,
  parseEnum,
  parseInteger,
  parseSize,
  resolvePath,
} from './parsers.js';
import type { Config, SettingName } from './types.js';

export const SECTIONS = ['Distribution', 'Output', 'Content', 'Partitions', 'Validation', 'Host'] as const;
export type Section = (typeof SECTIONS)[number];
/** mkosi ≤ 10 called [Content] [Packages]; mkosi 14 still reads it. */
export const SECTION_ALIASES: Readonly<Record<string, Section>> = { Packages: 'Content' };

export interface ParseContext {
  /** Relative paths are resolved against this directory (the -C directory). */
  readonly baseDir: string;
}

/** What a resolver can see: other settings (resolved on demand), the project directory and the host. */
export interface ResolveContext {
  get<K extends SettingName>(key: K): Config[K];
  /** Whether the user assigned this setting anywhere (file or command line). */
  isSet(key: SettingName): boolean;
  /** Where the user assigned it, if they did. */
  originOf(key: SettingName): Origin | undefined;
  readonly directory: string;
  readonly host: Host;
  readonly env: Readonly<Record<string, string | undefined>>;
  warn(message: string): void;
}

export type Kind =
  | {
      readonly type: 'scalar';
      parse(raw: string, context: ParseContext): unknown;
      /** The value of a bare `--flag` without `=value`; absent when a value is required. */
      readonly bare?: unknown;
      /** Whether a following argument may be taken as the value (`--checksum yes`). */
      acceptsNext?(raw: string): boolean;
      readonly metavar: string;
    }
  | {
      readonly type: 'list';
      /** Item separator; "newline" splits only on line breaks (mkosi's append lists). */
      readonly delimiter: ',' | ' ' | ':' | 'newline';
      item?(raw: string, context: ParseContext): string;
      readonly dedupe: boolean;
      /** The list that assignments start from (mkosi's argparse default). */
      readonly initial: readonly string[];
      readonly metavar: string;
    }
  | { readonly type: 'count' };

export type Status = 'supported' | 'partial' | 'unsupported';

export interface Setting<T> {
  /** Section the key is documented in; null for command-line-only settings. */
  readonly section: Section | null;
  /** Command-line spellings, mkosi's first. */
  readonly flags: readonly string[];
  /** Further configuration-file keys that mean this setting (old names, other capitalisation). */
  readonly keys?: readonly string[];
  /** Only the command line may set it (mkosi's -f cannot be used in a file either). */
  readonly commandLineOnly?: boolean;
  readonly kind: Kind;
  /** Turns the accumulated raw value (undefined when never assigned) into the final value. */
  resolve(raw: unknown, context: ResolveContext): T;
  /**
   * Whether kiln implements it. An unsupported setting is accepted only with its neutral value (by
   * default: what it resolves to when nothing is assigned); anything else is refused, never ignored.
   */
  readonly status: Status;
  readonly neutral?: T;
  /** For partly supported settings: a reason this value cannot be built, or undefined if it can. */
  unsupported?(value: T, context: ResolveContext): string | undefined;
  /**
   * Its value is a secret (Password=): summary shows "(hidden)", and kiln rewrites its own command
   * line so that other users do not see a value given there.
   */
  readonly secret?: boolean;
  /** The attribute name mkosi 14 gives this setting (its argparse dest), for the compat checks. */
  readonly mkosi: string;
  readonly doc: string;
  /** A remark `kiln summary` shows after a value (Format=lxc: a kiln extension, not an mkosi 14 value). */
  annotate?(value: T): string | undefined;
}

interface Common<T> {
  section: Section | null;
  flags: readonly string[];
  keys?: readonly string[];
  commandLineOnly?: boolean;
  status?: Status;
  neutral?: T;
  unsupported?: (value: T, context: ResolveContext) => string | undefined;
  annotate?: (value: T) => string | undefined;
  secret?: boolean;
  mkosi: string;
  doc: string;
}

type Default<T> = T | ((context: ResolveContext) => T);

interface ScalarOptions<T, P> extends Common<T> {
  default: Default<T>;
  /** Post-processing of an assigned or default value (mkosi's load_args adjustments). */
  finalize?: (value: T, context: ResolveContext) => T;
  /** Custom resolution of an assigned value; defaults to taking it as is. */
  fromRaw?: (raw: P, context: ResolveContext) => T;
}

function evaluate<T>(value: Default<T>, context: ResolveContext): T {
  return typeof value === 'function' ? (value as (c: ResolveContext) => T)(context) : value;
}

function scalar<T, P = T>(
  kind: Extract<Kind, { type: 'scalar' }>,
  options: ScalarOptions<T, P>,
): Setting<T> {
  const { default: fallback, finalize, fromRaw, ...common } = options;
  return {
    ...common,
    status: options.status ?? 'supported',
    kind,
    resolve(raw, context) {
      const value =
        raw === undefined ? evaluate(fallback, context) : fromRaw ? fromRaw(raw as P, context) : (raw as T);
      return finalize ? finalize(value, context) : value;
    },
  };
}

const BOOLEAN_METAVAR = 'BOOL';

export function bool(options: ScalarOptions<boolean, boolean>): Setting<boolean> {
  return scalar({ type: 'scalar', parse: parseBoolean, bare: true, acceptsNext: isBoolWord, metavar: BOOLEAN_METAVAR }, options);
}

/** A boolean that also takes words such as `auto` (CleanPackageMetadata=) or `never` (WithNetwork=). */
export function boolOr<W extends string>(words: readonly W[], options: ScalarOptions<boolean | W, boolean | W>): Setting<boolean | W> {
  const parse = parseBooleanOr(words);
  return scalar(
    {
      type: 'scalar',
      parse,
      bare: true,
      acceptsNext: (raw) => isBoolWord(raw) || (words as readonly string[]).includes(raw),
      metavar: `BOOL|${words.join('|')}`,
    },
    options,
  );
}

export function string<T extends string | null>(
  options: ScalarOptions<T, string> & { metavar?: string; parse?: (raw: string) => string },
): Setting<T> {
  const { metavar, parse, ...rest } = options;
  return scalar({ type: 'scalar', parse: parse ?? ((raw) => raw), metavar: metavar ?? 'STRING' }, rest);
}

export function integer<T extends number | null>(
  options: ScalarOptions<T, number> & { metavar?: string; parse?: (raw: string) => number },
): Setting<T> {
  const { metavar, parse, ...rest } = options;
  return scalar({ type: 'scalar', parse: parse ?? parseInteger, metavar: metavar ?? 'NUMBER' }, rest);
}

export function size<T extends number | null>(options: ScalarOptions<T, number>): Setting<T> {
  return scalar({ type: 'scalar', parse: parseSize, metavar: 'BYTES' }, options);
}

const EMPTY = Symbol('empty');

/**
 * One word of a fixed set. With `emptyIsDefault`, an empty value (`SourceFileTransfer=`) means the
 * default, as mkosi 14's parsers that turn "" into None do.
 */
export function enumeration<V extends string, T extends V | null>(
  values: readonly V[],
  options: ScalarOptions<T, V> & { aliases?: Readonly<Record<string, V>>; emptyIsDefault?: boolean },
): Setting<T> {
  const { aliases, emptyIsDefault, ...rest } = options;
  const parseWord = parseEnum(values, aliases);
  if (!emptyIsDefault) return scalar({ type: 'scalar', parse: parseWord, metavar: values.join('|') }, rest);
  const inner = scalar<T, V>({ type: 'scalar', parse: (raw) => (raw === '' ? EMPTY : parseWord(raw)), metavar: values.join('|') }, rest);
  return { ...inner, resolve: (raw, context) => inner.resolve(raw === EMPTY ? undefined : raw, context) };
}

/**
 * A path. An empty assignment resets it to its default (mkosi 14 would make it "."), except for
 * scripts, where `BuildScript=` explicitly disables auto-detection; see `script`.
 */
export function pathSetting(options: ScalarOptions<string | null, string | null> & { metavar?: string }): Setting<string | null> {
  const inner = scalar<string | null, string | null>(
    {
      type: 'scalar',
      parse: (raw, context) => (raw === '' ? null : resolvePath(raw, context.baseDir)),
      metavar: options.metavar ?? 'PATH',
    },
    options,
  );
  return {
    ...inner,
    resolve: (raw, context) => inner.resolve(raw === null ? undefined : raw, context),
  };
}

/** A script path; `Key=` (empty) disables the auto-detected mkosi.<name> script, as in mkosi 14. */
export const SCRIPT_DISABLED = Symbol('disabled');
export function script(options: ScalarOptions<string | null, string | typeof SCRIPT_DISABLED>): Setting<string | null> {
  return scalar<string | null, string | typeof SCRIPT_DISABLED>(
    {
      type: 'scalar',
      parse: (raw, context) => (raw === '' ? SCRIPT_DISABLED : resolvePath(raw, context.baseDir)),
      metavar: 'PATH',
    },
    { ...options, fromRaw: (raw) => (raw === SCRIPT_DISABLED ? null : raw) },
  );
}

interface ListOptions<T> extends Common<T> {
  delimiter: ',' | ' ' | ':' | 'newline';
  item?: (raw: string, context: ParseContext) => string;
  dedupe?: boolean;
  initial?: readonly string[];
  /** The value when the list is never assigned (mkosi's `if x is None` defaults). */
  unset?: readonly string[];
  /** Used when the list ends up empty (mkosi's auto-detection of mkosi.extra/ and friends). */
  whenEmpty?: (context: ResolveContext) => readonly string[];
  finalize?: (value: readonly string[], context: ResolveContext) => T;
  metavar?: string;
}

export function list<T = readonly string[]>(options: ListOptions<T>): Setting<T> {
  const { delimiter, item, dedupe, initial, unset, whenEmpty, finalize, metavar, ...common } = options;
  const start = initial ?? [];
  return {
    ...common,
    status: options.status ?? 'supported',
    kind: {
      type: 'list',
      delimiter,
      item,
      dedupe: dedupe ?? true,
      initial: start,
      metavar: metavar ?? (delimiter === ' ' ? 'ITEMS' : 'ITEM,…'),
    },
    resolve(raw, context) {
      let value = (raw as readonly string[] | undefined) ?? unset ?? start;
      if (value.length === 0 && whenEmpty) value = whenEmpty(context);
      return finalize ? finalize(value, context) : (value as T);
    },
  };
}

/** A list of paths: items are resolved against the configuration directory. */
export function pathList(options: Omit<ListOptions<readonly string[]>, 'item'>): Setting<readonly string[]> {
  return list({ ...options, item: (raw, context) => resolvePath(raw, context.baseDir), metavar: 'PATH,…' });
}

export function counter(options: Common<number>): Setting<number> {
  return {
    ...options,
    status: options.status ?? 'supported',
    kind: { type: 'count' },
    resolve: (raw) => (raw as number | undefined) ?? 0,
  };
}

function isBoolWord(raw: string): boolean {
  try {
    parseBoolean(raw);
    return true;
  } catch (error) {
    if (error instanceof ParseError) return false;
    throw error;
  }
}
