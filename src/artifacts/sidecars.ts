/** Files written beside the image: the .nspawn settings and SHA256SUMS (the manifest: manifest.ts). */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { streamToFile } from '../util/hash-stream.js';
import { outputNames } from './names.js';

/** mkosi.nspawn / NSpawnSettings= becomes `<stem>.nspawn`, which SHA256SUMS covers (importd checks it). */
export async function stageNspawnSettings(context: BuildContext): Promise<void> {
  const source = context.config.NSpawnSettings;
  if (source === null) return;
  const name = outputNames(context.config).nspawn;
  const target = path.join(context.staging, name);
  const sha256 = await streamToFile(createReadStream(source), target, context.config.Checksum);
  context.artifacts.push({ name, path: target, sha256, checksummed: true });
}

/** `<sha256> *<name>` lines, the form every systemd version's importer accepts. */
export function formatSha256Sums(entries: readonly { name: string; sha256: string }[]): string {
  return entries.map((entry) => `${entry.sha256} *${entry.name}\n`).join('');
}

export async function stageChecksums(context: BuildContext): Promise<void> {
  if (!context.config.Checksum) return;
  const entries = context.artifacts
    .filter((artifact) => artifact.checksummed && !artifact.isDirectory)
    .map((artifact) => {
      if (!artifact.sha256) throw new Error(`internal: ${artifact.name} was written without its SHA-256`);
      return { name: artifact.name, sha256: artifact.sha256 };
    });
  if (entries.length === 0) return;
  const name = outputNames(context.config).checksum;
  const target = path.join(context.staging, name);
  await fs.writeFile(target, formatSha256Sums(entries), { mode: 0o644 });
  context.artifacts.push({ name, path: target, checksummed: false });
}
