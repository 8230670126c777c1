/**
 * `<output>.manifest` (ManifestFormat=json): the image and every installed package, in mkosi 14's
 * format — manifest_version 1, a `config` object, and `packages` with the keys systemd's package
 * metadata uses (type, name, version, architecture) — so tools that read mkosi manifests read
 * kiln's. kiln adds one top-level `kiln` object naming its version. Not listed in SHA256SUMS, as in
 * mkosi: systemd-pull never fetches it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { KILN_VERSION } from '../version.js';
import { outputNames } from './names.js';

export interface ManifestConfig {
  readonly name: string;
  readonly distribution: string;
  readonly architecture: string;
  readonly version?: string;
  readonly release: string;
}

export interface Manifest {
  readonly manifest_version: 1;
  readonly config: ManifestConfig;
  readonly packages: readonly InstalledPackage[];
  readonly kiln: { readonly version: string };
}

export function buildManifest(config: Config, packages: readonly InstalledPackage[]): Manifest {
  return {
    manifest_version: 1,
    config: {
      // mkosi's key order: name, distribution, architecture, version (only when set), release.
      name: config.ImageId ?? 'image',
      distribution: config.Distribution,
      architecture: config.Architecture,
      ...(config.ImageVersion !== null ? { version: config.ImageVersion } : {}),
      release: config.Release,
    },
    // Only the four keys mkosi writes, in its order, whatever else a package manager recorded.
    packages: packages.map(({ type, name, version, architecture }) => ({ type, name, version, architecture })),
    kiln: { version: KILN_VERSION },
  };
}

export async function stageManifest(context: BuildContext): Promise<void> {
  const { config } = context;
  if (!config.ManifestFormat.includes('json')) return;
  const name = outputNames(config).manifest;
  const target = path.join(context.staging, name);
  await fs.writeFile(target, `${JSON.stringify(buildManifest(config, context.packages), null, 2)}\n`, { mode: 0o644 });
  context.artifacts.push({ name, path: target, checksummed: false });
}
