/**
 * `kiln summary`: the resolved configuration, for people (sections, aligned) or as JSON whose keys are
 * mkosi's configuration-file keys. Both are generated from the settings table.
 */
import type { Setting } from './setting.js';
import { SECTIONS } from './setting.js';
import { SETTING_NAMES, SETTINGS } from './settings/index.js';
import type { Config, SettingName } from './types.js';

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

/** Secrets are never printed, not even by summary. */
const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set(SETTING_NAMES.filter((name) => table[name].secret));
export const HIDDEN = '(hidden)';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** One JSON object: lists as arrays, booleans, sizes in bytes, absolute paths, unset as null. */
export function configToJson(config: Config): Record<string, JsonValue> {
  const json: Record<string, JsonValue> = {};
  for (const name of SETTING_NAMES) {
    const value = config[name] as JsonValue | undefined;
    json[name] = SECRET_SETTINGS.has(name) && value !== null ? HIDDEN : (value ?? null);
  }
  return json;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const KiB = 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${+(bytes / GiB).toFixed(1)}G`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)}M`;
  if (bytes >= KiB) return `${+(bytes / KiB).toFixed(1)}K`;
  return `${bytes}B`;
}

function formatValue(name: SettingName, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (SECRET_SETTINGS.has(name)) return HIDDEN;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' && table[name].kind.type === 'scalar' && table[name].kind.metavar === 'BYTES') {
    return formatBytes(value);
  }
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(table[name].kind.type === 'list' && (table[name].kind as { delimiter: string }).delimiter === ' ' ? ' ' : ', ');
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, string>);
    return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
  }
  return String(value);
}

/** summary exits 0 either way (as mkosi's does); this line says what build will do with it. */
export function refusalNote(count: number): string {
  return `kiln build will refuse this configuration: ${count === 1 ? 'one setting is' : `${count} settings are`} not supported yet (listed above)`;
}

export interface SummaryNotes {
  readonly files: readonly string[];
  readonly preset?: string;
  readonly unsupported: readonly string[];
}

/** The human summary: every supported setting, and unsupported ones only when they are used. */
export function formatSummary(config: Config, notes: SummaryNotes, isSet: (name: SettingName) => boolean): string {
  const rows: { section: string; key: string; value: string }[] = [];
  for (const name of SETTING_NAMES) {
    const setting = table[name];
    if (setting.status === 'unsupported' && !isSet(name)) continue;
    const remark = setting.annotate?.(config[name]);
    const value = formatValue(name, config[name]);
    rows.push({ section: setting.section ?? 'Output', key: name, value: remark ? `${value} (${remark})` : value });
  }
  const width = Math.max(...rows.map((row) => row.key.length)) + 1;
  const lines: string[] = [];
  lines.push(`Configuration: ${notes.files.length > 0 ? notes.files.join(', ') : '(none: defaults only)'}`);
  if (notes.preset) {
    lines.push(`Preset: ${notes.preset} (read first: the files after it and the command line override its settings and add to its lists)`);
  }
  for (const section of SECTIONS) {
    const sectionRows = rows.filter((row) => row.section === section);
    if (sectionRows.length === 0) continue;
    lines.push('', `[${section}]`);
    for (const row of sectionRows) lines.push(`  ${`${row.key}:`.padEnd(width)} ${row.value}`);
  }
  if (notes.unsupported.length > 0) {
    lines.push('', 'Not supported by kiln yet:');
    for (const message of notes.unsupported) lines.push(`  ${message}`);
    lines.push('', refusalNote(notes.unsupported.length));
  }
  return `${lines.join('\n')}\n`;
}
