#!/usr/bin/env node
/**
 * Exports kiln's settings table (from the compiled dist/) as plain rows, for the compat tools:
 * generate.py maps mkosi 14's attribute names to key names with it, generate-matrix.mjs renders the
 * matrix. `node mkosi-compat/table.mjs` prints the rows as JSON (run `npx tsc -p .` first).
 */
import { pathToFileURL } from 'node:url';

/** Plain rows from a settings table (the compiled one or, in tests, the TypeScript source). */
export function tableRows(settings) {
  return Object.entries(settings).map(([key, setting]) => ({
    key,
    section: setting.section,
    flags: [...setting.flags],
    keys: [...(setting.keys ?? [])],
    commandLineOnly: setting.commandLineOnly === true,
    status: setting.status,
    mkosi: setting.mkosi,
    kind: setting.kind.type,
    metavar: setting.kind.type === 'count' ? null : setting.kind.metavar,
    delimiter: setting.kind.type === 'list' ? setting.kind.delimiter : null,
    doc: setting.doc,
  }));
}

export async function loadCompiledRows() {
  const { SETTINGS } = await import(new URL('../dist/config/settings/index.js', import.meta.url).href);
  return tableRows(SETTINGS);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(await loadCompiledRows(), null, 2)}\n`);
}
