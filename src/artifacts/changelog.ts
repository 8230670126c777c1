/**
 * `<output>.changelog` (ManifestFormat=changelog): mkosi 14's package report, modelled on Fedora's
 * compose reports — the number and size of the packages, then one section per source package with
 * its binary packages, their size and the changelog the package manager keeps for it. A diff of two
 * reports shows what changed in the packages. Not listed in SHA256SUMS, as in mkosi.
 *
 * The changelogs come from the package managers' own records, never from the network: rpm's
 * database; for Debian the image's /usr/share/doc, or (WithDocs=no left it out) the package in the
 * package cache. mkosi 14 downloaded Debian changelogs from the archive's metadata server instead.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext, InstalledPackage, SourcePackage } from '../context.js';
import { outputNames } from './names.js';

/** The packages by source package, in the order the sources first appear (as mkosi groups them). */
export function groupBySource(packages: readonly InstalledPackage[]): Map<string, InstalledPackage[]> {
  const groups = new Map<string, InstalledPackage[]>();
  for (const item of packages) {
    const source = item.source || item.name;
    groups.set(source, [...(groups.get(source) ?? []), item]);
  }
  return groups;
}

const sizeOf = (packages: readonly InstalledPackage[]): number => packages.reduce((sum, item) => sum + (item.size ?? 0), 0);

/** mkosi 14's write_package_report(), byte for byte. */
export function renderChangelogReport(packages: readonly InstalledPackage[], sources: readonly SourcePackage[]): string {
  let text = `Packages: ${packages.length}\nSize:     ${sizeOf(packages)}\n`;
  for (const source of sources) {
    text += `\n${'-'.repeat(80)}\n\n`;
    text += `SourcePackage: ${source.name}\nPackages:      ${source.packages.map((item) => item.name).join(' ')}\nSize:          ${sizeOf(source.packages)}\n`;
    if (source.changelog) text += `\nChangelog:\n${source.changelog}\n`;
  }
  return text;
}

export async function stageChangelog(context: BuildContext): Promise<void> {
  const { config } = context;
  // mkosi writes no report for an image without packages.
  if (!config.ManifestFormat.includes('changelog') || context.packages.length === 0) return;
  const name = outputNames(config).changelog;
  const target = path.join(context.staging, name);
  await fs.writeFile(target, renderChangelogReport(context.packages, context.sourcePackages ?? []), { mode: 0o644 });
  context.artifacts.push({ name, path: target, checksummed: false });
}
