/**
 * Facts about the machine kiln runs on that mkosi 14 uses for defaults: the distribution and release
 * (from os-release), the architecture, and — kiln's addition — the Debian mirror the host itself uses
 * (from its apt sources), so that no mirror host name is ever built into kiln.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MKOSI_DISTRIBUTIONS, type DistributionName } from './types.js';

export interface Host {
  readonly distribution: DistributionName | null;
  readonly release: string | null;
  /** As `uname -m` spells it (mkosi uses platform.machine()). */
  readonly architecture: string;
  /** The Debian archive mirror from the host's apt sources, if the host is Debian. */
  readonly debianMirror: string | null;
  readonly kvm: boolean;
}

export function readOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    fields[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/** mkosi's detect_distribution(): ID, then ID_LIKE; Debian-like releases are codenames. */
export function detectDistribution(osRelease: Record<string, string>): { distribution: DistributionName | null; release: string | null } {
  const ids = [osRelease.ID ?? 'linux', ...(osRelease.ID_LIKE ?? '').split(/\s+/).filter(Boolean)];
  const distribution = (ids.find((id) => (MKOSI_DISTRIBUTIONS as readonly string[]).includes(id)) ?? null) as DistributionName | null;
  let release = osRelease.VERSION_ID ?? null;
  if (distribution === 'debian' || distribution === 'ubuntu') {
    const codename = osRelease.VERSION_CODENAME || /\((.*?)\)/.exec(osRelease.VERSION ?? '')?.[1];
    if (codename) release = codename;
  }
  return { distribution, release };
}

export interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** Reads one-line style (`deb [opts] URI SUITE COMPONENTS…`) sources. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').replace(/\[[^\]]*\]/, ' ').trim();
    const words = line.split(/\s+/);
    if (words[0] !== 'deb' || words.length < 3) continue;
    sources.push({ uri: words[1]!, suites: [words[2]!], components: words.slice(3) });
  }
  return sources;
}

/** Reads deb822 `.sources` files. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of paragraph.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^\s/.test(line) && last) {
        fields[last] += ` ${line.trim()}`;
        continue;
      }
      const match = /^([\w-]+):\s*(.*)$/.exec(line);
      if (!match) continue;
      last = match[1]!.toLowerCase();
      fields[last] = match[2]!;
    }
    const words = (key: string): string[] => (fields[key] ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || fields.enabled?.trim() === 'no') continue;
    for (const uri of words('uris')) {
      sources.push({ uri, suites: words('suites'), components: words('components') });
    }
  }
  return sources;
}

/** All apt sources configured under an apt directory (normally /etc/apt). */
export function readAptSources(aptDir: string): AptSource[] {
  const sources: AptSource[] = [];
  const list = path.join(aptDir, 'sources.list');
  if (existsSync(list)) sources.push(...parseSourcesList(readFileSync(list, 'utf8')));
  const dir = path.join(aptDir, 'sources.list.d');
  const names = existsSync(dir) ? readdirSync(dir).sort() : [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.list')) sources.push(...parseSourcesList(readFileSync(file, 'utf8')));
    else if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(readFileSync(file, 'utf8')));
  }
  return sources;
}

/**
 * The archive mirror among the host's sources: the first one that carries the host's own release
 * as a plain suite (not -security or -updates) with the main component.
 */
export function findArchiveMirror(sources: readonly AptSource[], release: string | null): string | null {
  const match = sources.find(
    (source) => release !== null && source.suites.includes(release) && source.components.includes('main'),
  );
  return match ? match.uri.replace(/\/+$/, '') : null;
}

/** Reads the facts once; `root` lets tests point at a fake /etc. */
export function detectHost(root = '/'): Host {
  const osReleasePath = [path.join(root, 'etc/os-release'), path.join(root, 'usr/lib/os-release')].find((p) => existsSync(p));
  const osRelease = osReleasePath ? readOsRelease(readFileSync(osReleasePath, 'utf8')) : {};
  const { distribution, release } = detectDistribution(osRelease);
  const debianMirror =
    distribution === 'debian' ? findArchiveMirror(readAptSources(path.join(root, 'etc/apt')), release) : null;
  return {
    distribution,
    release,
    architecture: os.machine(),
    debianMirror,
    kvm: existsSync('/dev/kvm'),
  };
}
