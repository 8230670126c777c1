/**
 * Which apt sources a Debian or Ubuntu image gets. The main suite comes from Mirror= (or
 * LocalMirror= while building); the -updates and -security suites are added only where the host's
 * own apt sources show them for the same release, so kiln never invents a mirror host name.
 */
import { readAptSources, type AptSource } from '../config/host.js';
import type { Config } from '../config/types.js';

export interface DebSource {
  readonly uri: string;
  readonly suite: string;
  readonly components: readonly string[];
  readonly trusted?: boolean;
}

/** dpkg's names for uname -m architectures. */
const DEBIAN_ARCHITECTURES: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  aarch64: 'arm64',
  i686: 'i386',
  i386: 'i386',
  x86: 'i386',
  armv7l: 'armhf',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64: 'mips64el',
};

export function debianArchitecture(architecture: string): string {
  return DEBIAN_ARCHITECTURES[architecture] ?? architecture;
}

export function components(config: Config): string[] {
  if (config.Repositories.length > 0) return [...config.Repositories];
  // Ubuntu keeps much of what images need (dracut, busybox) in universe.
  return config.Distribution === 'ubuntu' ? ['main', 'universe'] : ['main'];
}

/** Sources used while installing. */
export function buildSources(config: Config, hostSources: readonly AptSource[]): DebSource[] {
  if (config.LocalMirror) {
    return [{ uri: config.LocalMirror, suite: config.Release, components: ['main'], trusted: true }];
  }
  return imageSources(config, hostSources);
}

/** Sources written into the image. */
export function imageSources(config: Config, hostSources: readonly AptSource[]): DebSource[] {
  const mirror = config.Mirror!;
  const wanted = components(config);
  const sources: DebSource[] = [{ uri: mirror, suite: config.Release, components: wanted }];
  const hostHas = (suite: string) => hostSources.find((s) => s.suites.includes(suite));
  const updates = `${config.Release}-updates`;
  if (hostHas(updates)) sources.push({ uri: mirror, suite: updates, components: wanted });
  const security = hostHas(`${config.Release}-security`);
  if (security && config.Distribution === 'debian') {
    sources.push({ uri: security.uri.replace(/\/+$/, ''), suite: `${config.Release}-security`, components: wanted });
  }
  return sources;
}

export function sourceLine(source: DebSource): string {
  return `deb ${source.trusted ? '[trusted=yes] ' : ''}${source.uri} ${source.suite} ${source.components.join(' ')}`;
}

export function hostAptSources(): AptSource[] {
  return readAptSources('/etc/apt');
}
