/**
 * Debian changelogs for ManifestFormat=changelog, as `apt-get changelog` finds them, but offline:
 * each binary package ships its source's changelog as /usr/share/doc/<package>/changelog.Debian.gz
 * (changelog.gz for native packages). It is read from the image; with WithDocs=no the image has
 * none, so it is read from the package in the package cache instead.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import fs from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import { groupBySource } from '../artifacts/changelog.js';
import type { BuildContext, InstalledPackage, SourcePackage } from '../context.js';
import { run } from '../run.js';
import { resolveInRoot } from '../tree/safe-path.js';

const unzip = promisify(gunzip);
const NAMES = ['changelog.Debian.gz', 'changelog.gz'];

async function fromImage(root: string, item: InstalledPackage): Promise<string | undefined> {
  for (const name of NAMES) {
    try {
      const file = await resolveInRoot(root, `usr/share/doc/${item.name}/${name}`);
      if (!(await fs.stat(file)).isFile()) continue;
      return (await unzip(await fs.readFile(file))).toString('utf8');
    } catch {
      // not in the image
    }
  }
  return undefined;
}

/** The file name apt gives a package in its archive directory (an epoch's ':' escaped). */
export function debFileName(item: Pick<InstalledPackage, 'name' | 'version' | 'architecture'>): string {
  return `${item.name}_${item.version.replace(':', '%3a')}_${item.architecture}.deb`;
}

async function fromCachedDeb(cache: string, item: InstalledPackage): Promise<string | undefined> {
  const deb = path.join(cache, debFileName(item));
  if (!(await fs.stat(deb).catch(() => undefined))?.isFile()) return undefined;
  for (const name of NAMES) {
    // Names arrive as arguments, never spliced into the script.
    const { stdout } = await run(
      ['sh', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xOf - "./usr/share/doc/$2/$3" 2>/dev/null | gzip -dc 2>/dev/null', 'sh', deb, item.name, name],
      { stdio: 'pipe', read: true, what: `Reading the changelog of ${item.name}`, okCodes: [1, 2] },
    );
    if (stdout.trim()) return stdout;
  }
  return undefined;
}

async function changelogOf(context: BuildContext, binaries: readonly InstalledPackage[]): Promise<string | undefined> {
  for (const item of binaries) {
    const text = (await fromImage(context.root, item)) ?? (await fromCachedDeb(context.packageCache, item));
    if (text) return text.trim();
  }
  return undefined;
}

export async function debChangelogs(context: BuildContext, packages: readonly InstalledPackage[]): Promise<SourcePackage[]> {
  const queue = new PQueue({ concurrency: 4 });
  const groups = [...groupBySource(packages)];
  return Promise.all(groups.map(([name, binaries]) => queue.add(async () => ({ name, packages: binaries, changelog: await changelogOf(context, binaries) }))));
}
