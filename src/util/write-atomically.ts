import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `file` whole or not at all: written beside it and renamed over it, so that a reader (a build
 * reading mkosi.version, kiln ssh reading a VM's record) sees the old content or the new one, never
 * part of it. Nothing is left behind when the write fails.
 */
export async function writeFileAtomically(file: string, data: string, mode: number): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(temporary, data, { mode });
    await fs.rename(temporary, file);
  } finally {
    await fs.rm(temporary, { force: true });
  }
}
