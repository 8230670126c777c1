/** A resolved Config from mkosi.default lines, through the real loader (a fresh temp directory each). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';

export function configOf(text: string): Config {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-pm-'));
  try {
    writeFileSync(path.join(directory, 'mkosi.default'), text);
    return loadConfig({ directory, commandLine: [], cwd: directory }).config;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
