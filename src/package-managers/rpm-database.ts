/**
 * The image's RPM database, shared by dnf and zypper: where it lives is the distribution's policy
 * (rpmDatabase), the compat link and the package list for the manifest are the same for both.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { groupBySource } from '../artifacts/changelog.js';
import type { BuildContext, InstalledPackage, SourcePackage } from '../context.js';
import { run } from '../run.js';
import { existsInRoot, mkdirInRoot, resolveInRoot } from '../tree/safe-path.js';
import { RPM_QUERY_FORMAT } from './rpm-repos.js';

/** The distributions' own compat link: /var/lib/rpm → ../../usr/lib/sysimage/rpm, where nothing else is there. */
export async function linkRpmDatabase(root: string, database: string): Promise<void> {
  if (database === 'var/lib/rpm' || !(await existsInRoot(root, database))) return;
  const link = path.join(await mkdirInRoot(root, 'var/lib'), 'rpm');
  if (await fs.lstat(link).catch(() => undefined)) return;
  await fs.symlink(`../../${database}`, link);
}

export function parseRpmList(stdout: string): InstalledPackage[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', version = '', architecture = '', source, size] = line.split('\t');
      // gpg-pubkey entries (imported keys) have no architecture and no source package.
      return {
        type: 'rpm' as const,
        name,
        version,
        architecture: architecture === '(none)' ? '' : architecture,
        source: source === undefined ? undefined : source === '(none)' ? name : source,
        size: size === undefined ? undefined : Number(size) || 0,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** rpm on the image's own database: the path is resolved inside the image, then given relative to its root again. */
async function rpmOn(context: BuildContext, database: string): Promise<string[]> {
  const dbpath = `/${path.relative(context.root, await resolveInRoot(context.root, database))}`;
  return ['rpm', `--root=${context.root}`, `--dbpath=${dbpath}`];
}

/** Every package in the image's database (`rpm -qa`), for the manifest. */
export async function listRpmPackages(context: BuildContext, database: string): Promise<InstalledPackage[]> {
  const { stdout } = await run([...(await rpmOn(context, database)), '-qa', '--qf', RPM_QUERY_FORMAT], {
    stdio: 'pipe',
    read: true,
    what: 'Listing installed packages',
    searchPaths: context.config.ExtraSearchPaths,
  });
  return parseRpmList(stdout);
}

/** ManifestFormat=changelog: rpm's own changelog of each source package (mkosi 14's rpm -q --changelog). */
export async function rpmChangelogs(context: BuildContext, database: string, packages: readonly InstalledPackage[]): Promise<SourcePackage[]> {
  const rpm = await rpmOn(context, database);
  const sources: SourcePackage[] = [];
  for (const [name, binaries] of groupBySource(packages)) {
    const { stdout, exitCode } = await run([...rpm, '-q', '--changelog', binaries[0]!.name], {
      stdio: 'pipe',
      read: true,
      what: `Reading the changelog of ${name}`,
      searchPaths: context.config.ExtraSearchPaths,
      okCodes: [1],
    });
    sources.push({ name, packages: binaries, changelog: exitCode === 0 && stdout.trim() ? stdout.trim() : undefined });
  }
  return sources;
}
