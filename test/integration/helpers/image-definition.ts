/**
 * An image directory's definition: the entries mkosi 14 reads from it as input. Tests copy only
 * these, so that nothing built or left in the checkout (README's first command builds
 * images/debian-minimal in place) reaches a test: no image*, SHA256SUMS*, manifests, mkosi.output/,
 * mkosi.cache/, mkosi.builddir/, mkosi.workspace/ or .kiln-build-* workspaces. An image with a
 * build script (images/build-from-source) also has its sources there.
 */
import { cpSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** mkosi 14's inputs beside the configuration (its outputs, caches and work dirs are left out). */
export const DEFINITION_ENTRIES: readonly string[] = [
  'mkosi.default',
  'mkosi.default.d',
  'mkosi.conf',
  'mkosi.conf.d',
  'mkosi.files',
  'mkosi.skeleton',
  'mkosi.skeleton.tar',
  'mkosi.extra',
  'mkosi.extra.tar',
  'mkosi.prepare',
  'mkosi.build',
  'mkosi.postinst',
  'mkosi.finalize',
  'mkosi.nspawn',
  'mkosi.rootpw',
  'mkosi.passphrase',
  'mkosi.version',
  'mkosi.reposdir',
  'mkosi.mksquashfs-tool',
  'mkosi.secure-boot.key',
  'mkosi.secure-boot.crt',
];

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** What a build leaves beside the configuration: outputs, caches, build and work directories. */
const BUILT = [/^image/, /^SHA256SUMS/, /^mkosi\.(output|cache|builddir|workspace|installdir)$/, /^\.kiln-build-/, /^\.mkosi-/];

/**
 * The entries to copy: mkosi 14's inputs; with a build script also the sources it builds, which are
 * the whole directory (BuildSources= defaults to it) but for what a build left there.
 */
function definitionEntries(source: string): string[] {
  if (!exists(path.join(source, 'mkosi.build'))) return DEFINITION_ENTRIES.filter((name) => exists(path.join(source, name)));
  return readdirSync(source).filter((name) => !BUILT.some((pattern) => pattern.test(name)));
}

/** Copies the definition entries of `source` into the existing directory `target`; returns their names. */
export function copyImageDefinition(source: string, target: string): string[] {
  const copied = definitionEntries(source);
  if (!copied.includes('mkosi.default') && !copied.includes('mkosi.conf')) throw new Error(`${source} has no mkosi.default`);
  for (const name of copied) cpSync(path.join(source, name), path.join(target, name), { recursive: true, verbatimSymlinks: true });
  return copied;
}
