/** The distributions kiln builds. This registry is the only list of them. */
import type { DistributionName } from '../config/types.js';
import { alma, almaEpel } from './alma.js';
import { arch } from './arch.js';
import { centos, centosEpel } from './centos.js';
import { debian } from './debian.js';
import { fedora } from './fedora.js';
import { mageia } from './mageia.js';
import { openmandriva } from './openmandriva.js';
import { opensuse } from './opensuse.js';
import { rocky, rockyEpel } from './rocky.js';
import type { Distribution } from './types.js';
import { ubuntu } from './ubuntu.js';

export const DISTRIBUTIONS = {
  debian,
  ubuntu,
  arch,
  fedora,
  opensuse,
  centos,
  centos_epel: centosEpel,
  rocky,
  rocky_epel: rockyEpel,
  alma,
  alma_epel: almaEpel,
  mageia,
  openmandriva,
} as const satisfies Partial<Record<DistributionName, Distribution>>;

export type SupportedDistribution = keyof typeof DISTRIBUTIONS;

export function isSupportedDistribution(name: string): name is SupportedDistribution {
  return Object.hasOwn(DISTRIBUTIONS, name);
}

export function getDistribution(name: DistributionName): Distribution {
  if (!isSupportedDistribution(name)) throw new Error(`internal: distribution ${name} is not in the registry`);
  return DISTRIBUTIONS[name];
}
