/**
 * A package manager is mechanism: how to put packages into a root (debootstrap/mmdebstrap + apt,
 * pacman, dnf). Which packages and mirrors is the distribution's policy (distributions/).
 */
import type { PackageFilter } from '../cache/package-cache.js';
import type { Config } from '../config/types.js';
import type { BuildContext, InstalledPackage, SourcePackage } from '../context.js';

export type PackageManagerName = 'apt' | 'pacman' | 'dnf' | 'zypper';

export interface PackageManager {
  readonly name: PackageManagerName;
  /** Host programs needed for this configuration (checked before the build starts). */
  requiredTools(config: Config): readonly string[];
  /** Prepares an empty root before the skeleton trees are copied in (Debian: the merged-/usr links). */
  prepareRoot?(context: BuildContext): Promise<void>;
  /**
   * Installs the base system plus `packages` into `context.root`, which may already hold the
   * skeleton trees. Downloads are kept in `context.packageCache`.
   */
  install(context: BuildContext, packages: readonly string[]): Promise<void>;
  /** Installs more packages into a root this package manager made (incremental builds). */
  installMore(context: BuildContext, packages: readonly string[]): Promise<void>;
  /** Removes packages at the end of the build (RemovePackages=). */
  remove(context: BuildContext, packages: readonly string[]): Promise<void>;
  /** Every installed package, for the manifest. */
  listInstalled(context: BuildContext): Promise<InstalledPackage[]>;
  /**
   * ManifestFormat=changelog: the packages grouped by source package, each with the changelog the
   * package manager keeps for it (none where it keeps none: pacman).
   */
  changelogs(context: BuildContext, packages: readonly InstalledPackage[]): Promise<SourcePackage[]>;
  /** Where the package cache is bound inside the image while scripts run (relative to the root). */
  readonly cacheMountPoint: string;
  /**
   * The files of a package cache that is a flat directory of packages (apt's, pacman's): a script
   * gets a directory of its own, offered the cached packages, and what it downloads is published
   * when it is done — the cache is not locked while it runs. Without it (dnf's and zypper's caches
   * hold metadata too) the cache itself is bound, locked for the script's whole run.
   */
  readonly cacheFiles?: PackageFilter;
}
