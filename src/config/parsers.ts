/**
 * Value parsers for mkosi 14 settings. Each throws a ParseError that says what is wrong with the
 * value and names the accepted ones; the loader adds the file, line and the assignment itself.
 */
import path from 'node:path';

export class ParseError extends Error {
  /** The text that was judged, when it is only part of the assignment (one item of a list). */
  readonly value: string | undefined;
  readonly hint: string | undefined;

  /** `message` completes "<Key=value> …", e.g. "is not a boolean (use yes or no)". */
  constructor(message: string, options: { value?: string; hint?: string } = {}) {
    super(message);
    this.value = options.value;
    this.hint = options.hint;
  }
}

const TRUE = new Set(['1', 'true', 'yes', 'y', 't', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'n', 'f', 'off']);

export function parseBoolean(raw: string): boolean {
  const value = raw.toLowerCase();
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new ParseError('is not a boolean (use yes/no, true/false, on/off or 1/0)', { value: raw });
}

export function isBooleanLiteral(raw: string): boolean {
  const value = raw.toLowerCase();
  return TRUE.has(value) || FALSE.has(value);
}

/** A boolean that also accepts some words of its own, such as `auto` or `never`. */
export function parseBooleanOr<W extends string>(words: readonly W[]) {
  return (raw: string): boolean | W => {
    if ((words as readonly string[]).includes(raw)) return raw as W;
    if (isBooleanLiteral(raw)) return parseBoolean(raw);
    throw new ParseError(`is not valid (use yes, no or ${words.join(', ')})`, { value: raw });
  };
}

const SIZE_FACTORS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Sizes as mkosi's parse_bytes(): a number with an optional K/M/G suffix (1024-based), rounded up to
 * whole 512-byte sectors. kiln also takes lower-case suffixes and T.
 */
export function parseSize(raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)\s*$/.exec(raw);
  if (!match) {
    throw new ParseError('is not a size (use a number of bytes with an optional K, M or G suffix, e.g. 3G)', { value: raw });
  }
  const bytes = Math.ceil(Number(match[1]) * (SIZE_FACTORS[(match[2] ?? '').toUpperCase()] ?? 1));
  if (bytes <= 0) throw new ParseError('is not a size greater than zero', { value: raw });
  return Math.ceil(bytes / 512) * 512;
}

export function parseInteger(raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ParseError('is not an integer', { value: raw });
  return Number.parseInt(raw, 10);
}

/** One of a fixed set of words; aliases map old spellings onto current ones. */
export function parseEnum<V extends string>(values: readonly V[], aliases: Readonly<Record<string, V>> = {}) {
  return (raw: string): V => {
    if ((values as readonly string[]).includes(raw)) return raw as V;
    const aliased = aliases[raw];
    if (aliased) return aliased;
    const suggestion = closest(raw, [...values, ...Object.keys(aliases)]);
    throw new ParseError(`is not valid (valid values: ${values.join(', ')})`, {
      value: raw,
      hint: suggestion ? `did you mean ${aliases[suggestion] ?? suggestion}?` : undefined,
    });
  };
}

/** Relative paths are relative to the configuration directory (what mkosi's chdir to -C gives). */
export function resolvePath(raw: string, baseDir: string): string {
  return path.resolve(baseDir, raw);
}

/**
 * Splits a list value the way mkosi's ListAction does: on the delimiter outside quotes (quotes are
 * kept), items stripped, empty items dropped; comma lists may be written as `[a,b]`.
 */
export function splitList(raw: string, delimiter: string): string[] {
  let value = raw;
  if (delimiter === ',' && value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  const items: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const ch of value) {
    if (quote) {
      if (ch === quote) quote = undefined;
      current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === delimiter || (delimiter === ' ' && /\s/.test(ch))) {
      items.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  items.push(current);
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

/**
 * Applies list items in order to an accumulated list: `!x` removes an earlier x, `!*` clears, other
 * items are appended. Duplicates are dropped (keeping the first) unless `dedupe` is false.
 */
export function applyListItems(list: readonly string[], items: readonly string[], dedupe = true): string[] {
  let result = [...list];
  for (const item of items) {
    if (item === '!*') result = [];
    else if (item.startsWith('!')) {
      const index = result.indexOf(item.slice(1));
      if (index >= 0) result.splice(index, 1);
    } else result.push(item);
  }
  return dedupe ? [...new Set(result)] : result;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined || bestDistance > Math.max(2, Math.floor(word.length / 3))) return undefined;
  // A candidate that shares nothing with the word ("zz" and "a") is no suggestion.
  return bestDistance < Math.max(lower.length, best.length) ? best : undefined;
}
