/**
 * How configuration-file keys and command-line flags name settings. mkosi 14 turned every `Key=value`
 * into `--key=value` (CamelCase to kebab-case, plus a map of special names), so both `WithNetwork=`
 * and `with-network=` work, and old names such as `BuildEnvironment=` keep working through their flags.
 */
import { SECTIONS, type Setting } from './setting.js';
import { SETTING_NAMES, SETTINGS } from './settings/index.js';
import { closest } from './parsers.js';
import type { SettingName } from './types.js';

export interface SettingRef {
  readonly name: SettingName;
  /** `--without-tests` and `--not-…` invert the boolean they set (mkosi's BooleanAction). */
  readonly invert: boolean;
}

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

const BY_FLAG = new Map<string, SettingRef>();
const BY_KEY = new Map<string, SettingRef>();
for (const name of SETTING_NAMES) {
  const setting = table[name];
  // A short flag belongs to the first long spelling after it (mkosi: -T, --without-tests).
  const firstLong = setting.flags.find((flag) => flag.startsWith('--')) ?? '';
  for (const flag of setting.flags) {
    const invert = /^--(not|without)-/.test(flag.startsWith('--') ? flag : firstLong);
    BY_FLAG.set(flag, { name, invert });
  }
  if (setting.section !== null) {
    BY_KEY.set(name, { name, invert: false });
    for (const key of setting.keys ?? []) BY_KEY.set(key, { name, invert: false });
  }
}

/** mkosi's _camel_to_arg(). */
export function camelToKebab(key: string): string {
  return key
    .replace(/(.)([A-Z][a-z]+)/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

export function lookupFlag(flag: string): SettingRef | undefined {
  return BY_FLAG.get(flag);
}

/** Keys mkosi once had that now mean something else; a clear word beats "unknown key". */
export const RETIRED_KEYS: Readonly<Record<string, string>> = {
  XZ: 'XZ= was replaced by CompressOutput=xz in mkosi 11',
};

export function lookupKey(key: string): SettingRef | undefined {
  const direct = BY_KEY.get(key);
  if (direct) return direct;
  return BY_FLAG.get(`--${camelToKebab(key)}`);
}

export function suggestKey(key: string): string | undefined {
  return closest(key, [...BY_KEY.keys()]);
}

export function suggestFlag(flag: string): string | undefined {
  return closest(flag, [...BY_FLAG.keys()].filter((f) => f.startsWith('--')));
}

export function suggestSection(section: string): string | undefined {
  return closest(section, SECTIONS);
}
