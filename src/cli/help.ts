/** `kiln --help`, generated from the verb registry, the command-line options and the settings table. */
import type { Setting } from '../config/setting.js';
import { SECTIONS } from '../config/setting.js';
import { SETTING_NAMES, SETTINGS } from '../config/settings/index.js';
import type { SettingName } from '../config/types.js';
import type { Verb } from '../verbs/types.js';
import { COMMAND_LINE_OPTIONS } from './arguments.js';

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

function metavarOf(setting: Setting<unknown>): string {
  const { kind } = setting;
  if (kind.type === 'count') return '';
  if (kind.type === 'scalar' && 'bare' in kind) return `[=${kind.metavar}]`;
  return ` ${kind.metavar}`;
}

export function formatHelp(verbs: Readonly<Record<string, Verb>>): string {
  const lines = [
    'Usage: kiln [OPTIONS…] [VERB] [OPTIONS…] [-- COMMAND…]',
    '',
    'Builds OS images from a mkosi.default (mkosi 14 format) in the current directory or -C DIR.',
    '',
    'Verbs:',
  ];
  const verbWidth = Math.max(...Object.keys(verbs).map((v) => v.length)) + 2;
  for (const [name, verb] of Object.entries(verbs)) lines.push(`  ${name.padEnd(verbWidth)}${verb.doc}`);
  lines.push('', 'Options:');
  const options = Object.values(COMMAND_LINE_OPTIONS).map((option) => ({
    usage: option.flags.join(', ') + ('metavar' in option ? ` ${option.metavar}` : ''),
    doc: option.doc,
  }));
  const settingRows = new Map<string, { usage: string; doc: string }[]>();
  for (const name of SETTING_NAMES) {
    const setting = table[name];
    if (setting.flags.length === 0) continue;
    const section = setting.section ?? 'Output';
    const support = setting.status === 'unsupported' ? ' (not supported by kiln yet)' : '';
    const usage = `${setting.flags.join(', ')}${metavarOf(setting)}`;
    const rows = settingRows.get(section) ?? [];
    rows.push({ usage, doc: `${name}=: ${setting.doc}${support}` });
    settingRows.set(section, rows);
  }
  const width = Math.min(44, Math.max(...[...options, ...[...settingRows.values()].flat()].map((r) => r.usage.length)) + 2);
  const row = (r: { usage: string; doc: string }): string =>
    r.usage.length + 2 > width ? `  ${r.usage}\n  ${''.padEnd(width)}${r.doc}` : `  ${r.usage.padEnd(width)}${r.doc}`;
  lines.push(...options.map(row));
  for (const section of SECTIONS) {
    const rows = settingRows.get(section);
    if (!rows) continue;
    lines.push('', `[${section}] settings (command line or mkosi.default):`);
    lines.push(...rows.map(row));
  }
  lines.push('', 'Settings from files and the command line combine as in mkosi 14: the last value wins,', 'lists grow, "!x" removes x and "!*" clears a list.');
  return `${lines.join('\n')}\n`;
}
