/**
 * Applies one assignment (a `Key=value` line or a command-line option) to the accumulated raw state:
 * scalars are replaced, lists grow (with `!x` and `!*`), counters count. Parse errors become
 * ConfigErrors that name where the value came from.
 */
import { ConfigError, type Origin } from '../errors.js';
import { applyListItems, ParseError, parseInteger, splitList } from './parsers.js';
import type { ParseContext, Setting } from './setting.js';
import { SETTINGS } from './settings/index.js';
import type { SettingName } from './types.js';

export interface RawValue {
  readonly value: unknown;
  readonly origin: Origin;
}

export type RawState = Map<SettingName, RawValue>;

export interface Assignment {
  readonly name: SettingName;
  /** undefined for a bare command-line flag (`--checksum`, `-f`). */
  readonly raw: string | undefined;
  readonly invert: boolean;
  readonly origin: Origin;
  /** How the user spelled it, for messages: `Bootable=` or `--bootable`. */
  readonly spelling: string;
}

/** The assignment as the user wrote it, on one line: `Key=value`, `--flag=value` or `-f value`. */
export function spell(assignment: Assignment): string {
  const { spelling } = assignment;
  if (assignment.raw === undefined) return spelling;
  let raw = assignment.raw.replaceAll('\n', ' ');
  if (raw.length > 60) raw = `${raw.slice(0, 59)}…`;
  if (spelling.endsWith('=')) return `${spelling}${raw}`;
  return spelling.startsWith('--') ? `${spelling}=${raw}` : `${spelling} ${raw}`;
}

const DELIMITERS = { ',': ',', ' ': ' ', ':': ':' } as const;

export function applyAssignment(state: RawState, assignment: Assignment, context: ParseContext): void {
  const setting = (SETTINGS as unknown as Record<SettingName, Setting<unknown>>)[assignment.name];
  const fail = (message: string, hint?: string): never => {
    throw new ConfigError(assignment.origin, `${assignment.spelling} ${message}`, { hint });
  };
  try {
    const { kind } = setting;
    const previous = state.get(assignment.name);
    let value: unknown;
    if (kind.type === 'count') {
      const current = (previous?.value as number | undefined) ?? 0;
      value = assignment.raw === undefined ? current + 1 : parseInteger(assignment.raw);
    } else if (kind.type === 'scalar') {
      if (assignment.raw === undefined) {
        if (!('bare' in kind)) fail('needs a value');
        value = kind.bare;
      } else {
        value = kind.parse(assignment.raw, context);
      }
      if (assignment.invert) value = !value;
    } else {
      if (assignment.raw === undefined) fail('needs a value');
      const text = assignment.raw ?? '';
      const items =
        kind.delimiter === 'newline'
          ? text.split('\n').map((item) => item.trim()).filter(Boolean)
          : splitList(text.replaceAll('\n', DELIMITERS[kind.delimiter]), kind.delimiter);
      const parsed = items.map((item) => {
        if (item === '!*' || !kind.item) return item;
        return item.startsWith('!') ? `!${kind.item(item.slice(1), context)}` : kind.item(item, context);
      });
      const current = (previous?.value as readonly string[] | undefined) ?? kind.initial;
      value = applyListItems(current, parsed, kind.dedupe);
    }
    state.set(assignment.name, { value, origin: assignment.origin });
  } catch (error) {
    if (error instanceof ParseError) {
      const judged = error.value === undefined || error.value === assignment.raw ? '' : `: "${error.value}"`;
      throw new ConfigError(assignment.origin, `${spell(assignment)}${judged} ${error.message}`, { hint: error.hint });
    }
    throw error;
  }
}
