/**
 * The image's RPM database, shared by dnf and zypper: where it lives is the distribution's policy
 * (rpmDatabase), the compat link and the package list for the manifest are the same for both.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext, InstalledPackage } from '../context.js';
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
      const [name = '', version = '', architecture = ''] = line.split('\t');
      // gpg-pubkey entries (imported keys) have no architecture.
      return { type: 'rpm' as const, name, version, architecture: architecture === '(none)' ? '' : architecture };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** Every package in the image's database (`rpm -qa`), for the manifest. */
export async function listRpmPackages(context: BuildContext, database: string): Promise<InstalledPackage[]> {
  // Resolved inside the image, then given to rpm relative to the root again.
  const dbpath = `/${path.relative(context.root, await resolveInRoot(context.root, database))}`;
  const { stdout } = await run(['rpm', `--root=${context.root}`, `--dbpath=${dbpath}`, '-qa', '--qf', RPM_QUERY_FORMAT], {
    stdio: 'pipe',
    what: 'Listing installed packages',
    searchPaths: context.config.ExtraSearchPaths,
  });
  return parseRpmList(stdout);
}
