/** The package managers kiln drives. This registry is the only list of them. */
import { apt } from './apt.js';
import { dnf } from './dnf.js';
import { pacman } from './pacman.js';
import { zypper } from './zypper.js';
import type { PackageManager, PackageManagerName } from './types.js';

export const PACKAGE_MANAGERS: Partial<Record<PackageManagerName, PackageManager>> = { apt, pacman, dnf, zypper };

export function getPackageManager(name: PackageManagerName): PackageManager {
  const manager = PACKAGE_MANAGERS[name];
  if (!manager) throw new Error(`internal: package manager ${name} is not in the registry`);
  return manager;
}
