/** The distributions kiln builds. This registry is the only list of them. */
import type { DistributionName } from '../config/types.js';
import { arch } from './arch.js';
import { debian } from './debian.js';
import { fedora } from './fedora.js';
import type { Distribution } from './types.js';
import { ubuntu } from './ubuntu.js';

export const DISTRIBUTIONS = { debian, ubuntu, arch, fedora } as const satisfies Partial<Record<DistributionName, Distribution>>;

export type SupportedDistribution = keyof typeof DISTRIBUTIONS;

export function isSupportedDistribution(name: string): name is SupportedDistribution {
  return Object.hasOwn(DISTRIBUTIONS, name);
}

export function getDistribution(name: DistributionName): Distribution {
  if (!isSupportedDistribution(name)) throw new Error(`internal: distribution ${name} is not in the registry`);
  return DISTRIBUTIONS[name];
}
