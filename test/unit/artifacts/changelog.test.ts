import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { groupBySource, renderChangelogReport } from '../../../src/artifacts/changelog.js';
import type { InstalledPackage, SourcePackage } from '../../../src/context.js';

const PACKAGES: InstalledPackage[] = [
  { type: 'deb', name: 'libc-bin', version: '2.36-9', architecture: 'amd64', source: 'glibc', size: 2_048 },
  { type: 'deb', name: 'libc6', version: '2.36-9', architecture: 'amd64', source: 'glibc', size: 12_288 },
  { type: 'deb', name: 'mawk', version: '1.3.4', architecture: 'amd64', source: 'mawk', size: 1_024 },
  { type: 'deb', name: 'zlib1g', version: '1:1.2.13', architecture: 'amd64', source: 'zlib', size: 0 },
];
const CHANGELOGS: Record<string, string | undefined> = { glibc: 'glibc (2.36-9) bookworm; urgency=medium\n\n  * Fixes.', mawk: undefined, zlib: 'zlib (1:1.2.13) unstable\n\n  * New.' };

function sources(): SourcePackage[] {
  return [...groupBySource(PACKAGES)].map(([name, packages]) => ({ name, packages, changelog: CHANGELOGS[name] }));
}

/** The same report from mkosi 14's own code (mkosi.manifest), where it is installed. */
function mkosiReport(): string | undefined {
  const script = `
import json, sys
from mkosi.manifest import Manifest, PackageManifest, SourcePackageManifest
data = json.load(sys.stdin)
m = Manifest.__new__(Manifest)
m.packages = []
m.source_packages = {}
for p in data['packages']:
    pkg = PackageManifest(p['type'], p['name'], p['version'], p['architecture'], p['size'])
    m.packages.append(pkg)
    src = m.source_packages.setdefault(p['source'], SourcePackageManifest(p['source'], data['changelogs'].get(p['source'])))
    src.add(pkg)
m.write_package_report(sys.stdout)
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ packages: PACKAGES, changelogs: CHANGELOGS }), encoding: 'utf8' });
  if (result.status !== 0) {
    console.warn(`mkosi 14's manifest module is not importable here: ${result.stderr.trim().split('\n').pop()}`);
    return undefined;
  }
  return result.stdout;
}

describe('ManifestFormat=changelog', () => {
  it('groups binary packages by source package in the order the sources appear', () => {
    expect([...groupBySource(PACKAGES)].map(([name, packages]) => `${name}: ${packages.map((p) => p.name).join(' ')}`)).toEqual([
      'glibc: libc-bin libc6',
      'mawk: mawk',
      'zlib: zlib1g',
    ]);
  });

  it('writes the report as mkosi 14 writes it', () => {
    const report = renderChangelogReport(PACKAGES, sources());
    expect(report.split('\n').slice(0, 9)).toEqual([
      'Packages: 4',
      'Size:     15360',
      '',
      '-'.repeat(80),
      '',
      'SourcePackage: glibc',
      'Packages:      libc-bin libc6',
      'Size:          14336',
      '',
    ]);
    const expected = mkosiReport();
    if (expected !== undefined) expect(report).toBe(expected);
  });
});
