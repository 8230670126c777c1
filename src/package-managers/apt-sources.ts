/**
 * Which apt sources a Debian or Ubuntu image gets. The main suite comes from Mirror= (or
 * LocalMirror= while building); the -updates and -security suites are added only where the host's
 * own apt sources show them for the same release, so kiln never invents a mirror host name.
 */
import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readAptSources, type AptSource } from '../config/host.js';
import { resolveInRoot, writeFileInRoot } from '../tree/safe-path.js';
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

/**
 * RepositoryDirectory= for apt (a kiln extension: mkosi 14 took it for dnf and pacman only): its
 * *.list and *.sources files are apt sources used while building, besides the distribution's. As
 * mkosi 14 does with dnf and pacman repository files, they are not left in the image.
 */
export function repositoryDirectorySources(config: Config): string[] {
  const dir = config.RepositoryDirectory;
  if (dir === null) return [];
  try {
    return readdirSync(dir)
      .filter((name) => /\.(list|sources)$/.test(name) && !name.startsWith('.'))
      .sort()
      .map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

/** Takes the build's own sources (RepositoryDirectory=) out of the image's sources.list.d/. */
export async function removeBuildSources(root: string, matches: (name: string) => boolean): Promise<void> {
  const dir = await resolveInRoot(root, 'etc/apt/sources.list.d').catch(() => undefined);
  const names = dir ? await fs.readdir(dir).catch(() => [] as string[]) : [];
  for (const name of names.filter(matches)) await fs.rm(path.join(dir!, name), { force: true });
}

/** The image's own sources.list: Mirror= (never the LocalMirror= the build may have used). */
export async function writeImageSources(root: string, config: Config): Promise<void> {
  const lines = imageSources(config, hostAptSources()).map(sourceLine);
  await writeFileInRoot(root, 'etc/apt/sources.list', `${lines.join('\n')}\n`, 0o644);
}
