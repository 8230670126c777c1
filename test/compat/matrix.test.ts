/** mkosi-compat/settings-matrix.md is generated from the settings table and must be kept current. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/settings/index.js';
import { MATRIX_FILE, renderMatrix } from '../../mkosi-compat/generate-matrix.mjs';
import { tableRows } from '../../mkosi-compat/table.mjs';

describe('mkosi-compat/settings-matrix.md', () => {
  const text = renderMatrix(tableRows(SETTINGS));

  it('is what generate-matrix.mjs makes of the current settings table (else: npm run compat:matrix)', () => {
    expect(readFileSync(fileURLToPath(MATRIX_FILE), 'utf8')).toBe(text);
  });

  it('lists every setting with its status', () => {
    for (const [key, setting] of Object.entries(SETTINGS)) {
      expect(text).toMatch(new RegExp(`^\\| \`${key}=\`.*\\| ${setting.status} \\|`, 'm'));
    }
  });
});
