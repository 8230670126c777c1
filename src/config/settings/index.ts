/**
 * THE settings table: every mkosi 14 configuration key, in mkosi's section order. `--help`,
 * `summary`, `summary --json` and mkosi-compat/settings-matrix.md are generated from it, and the
 * `satisfies` below makes a Config field without an entry (or an entry without a field) a compile error.
 */
import type { Setting } from '../setting.js';
import type { Config } from '../types.js';
import { contentSettings } from './content.js';
import { distributionSettings } from './distribution.js';
import { hostSettings } from './host.js';
import { outputSettings } from './output.js';
import { partitionSettings } from './partitions.js';
import { validationSettings } from './validation.js';

export type SettingsTable = { readonly [K in keyof Config]-?: Setting<Config[K]> };

export const SETTINGS = {
  ...distributionSettings,
  ...outputSettings,
  ...contentSettings,
  ...partitionSettings,
  ...validationSettings,
  ...hostSettings,
} satisfies SettingsTable;

export const SETTING_NAMES = Object.keys(SETTINGS) as (keyof Config)[];

export function settingOf<K extends keyof Config>(name: K): Setting<Config[K]> {
  return (SETTINGS as SettingsTable)[name] as unknown as Setting<Config[K]>;
}
