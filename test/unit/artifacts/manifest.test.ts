import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildManifest } from '../../../src/artifacts/manifest.js';
import type { InstalledPackage } from '../../../src/context.js';
import { unavailable } from '../../skip.js';
import { configOf } from '../package-managers/config-of.js';

const PACKAGES: InstalledPackage[] = [
  { type: 'deb', name: 'base-files', version: '12.4+deb12u15', architecture: 'amd64' },
  { type: 'deb', name: 'tzdata', version: '2025b-0+deb12u2', architecture: 'all' },
];

const MKOSI = '/usr/lib/python3/dist-packages/mkosi/manifest.py';
/** The Python mkosi 14 is installed for (not whatever python3 comes first in PATH). */
const noMkosi = unavailable(existsSync(MKOSI) ? undefined : 'needs mkosi 14 (apt-get install mkosi)');

/** What mkosi 14's own Manifest class writes for the same image and packages. */
function mkosiManifest(config: { image_id: string | null; distribution: string; architecture: string; image_version: string | null; release: string }): unknown {
  const script = `
import json, sys, types
from mkosi.manifest import Manifest, PackageManifest
given = json.load(sys.stdin)
c = given["config"]
config = types.SimpleNamespace(image_id=c["image_id"], distribution=types.SimpleNamespace(name=c["distribution"]),
                               architecture=c["architecture"], image_version=c["image_version"], release=c["release"],
                               manifest_format=[])
m = Manifest(config)
for p in given["packages"]:
    m.packages.append(PackageManifest(p["type"], p["name"], p["version"], p["architecture"], 0))
print(json.dumps(m.as_dict()))
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ config, packages: PACKAGES }), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

describe('buildManifest', () => {
  it('has the shape of mkosi 14 manifests, plus kiln\'s version', () => {
    const config = configOf('[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86_64\n');
    const manifest = buildManifest(config, PACKAGES);
    expect(manifest.manifest_version).toBe(1);
    expect(manifest.config).toEqual({ name: 'image', distribution: 'debian', architecture: 'x86_64', release: 'bookworm' });
    expect(manifest.packages).toEqual(PACKAGES);
    expect(Object.keys(manifest)).toEqual(['manifest_version', 'config', 'packages', 'kiln']);
    expect(manifest.kiln.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('names the image and its version from ImageId= and ImageVersion=', () => {
    const config = configOf('[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=web\nImageVersion=1.2\n');
    expect(buildManifest(config, []).config).toMatchObject({ name: 'web', version: '1.2' });
    expect(Object.keys(buildManifest(config, []).config)).toEqual(['name', 'distribution', 'architecture', 'version', 'release']);
  });

  it('keeps only the four package keys mkosi writes', () => {
    const extra = [{ ...PACKAGES[0]!, size: 123, source: 'base-files' } as InstalledPackage];
    expect(Object.keys(buildManifest(configOf('[Distribution]\nDistribution=debian\n'), extra).packages[0]!)).toEqual(['type', 'name', 'version', 'architecture']);
  });

  it.skipIf(noMkosi)('is what mkosi 14 itself writes for the same image (without kiln\'s key)', () => {
    for (const text of ['[Distribution]\nDistribution=debian\nRelease=bookworm\n', '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=web\nImageVersion=1.2\n']) {
      const config = configOf(text);
      const { kiln: _kiln, ...ours } = buildManifest(config, PACKAGES);
      const theirs = mkosiManifest({
        image_id: config.ImageId,
        distribution: config.Distribution,
        architecture: config.Architecture,
        image_version: config.ImageVersion,
        release: config.Release,
      });
      // Key order too: JSON readers do not care, people diffing manifests do.
      expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
    }
  });
});
