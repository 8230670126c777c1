/**
 * The last two steps of a reproducible build (SourceDateEpoch=): remove what records when, and from
 * which state of the mirror, the image was built — the files mmdebstrap's cleanup removes, for every
 * package manager kiln drives — and clamp the tree's times to the epoch.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { debug } from '../log.js';
import { clampTreeTimes } from '../tree/clamp-times.js';
import { removeGlobInRoot } from '../tree/glob.js';
import { resolveInRoot } from '../tree/safe-path.js';
import type { Stage } from './types.js';

/**
 * Logs with time stamps, caches of the mirror's indexes and downloads. Package databases stay: the
 * image's package manager needs them (dpkg's and rpm's hold no build time; pacman's install dates are
 * clamped below). mmdebstrap's list, then debootstrap's log, then pacman's, dnf's and zypper's own.
 */
export const BUILD_RECORDS: readonly string[] = [
  '/var/log/dpkg.log',
  '/var/log/apt/history.log',
  '/var/log/apt/term.log',
  '/var/log/apt/eipp.log.xz',
  '/var/log/alternatives.log',
  '/var/cache/ldconfig/aux-cache',
  '/var/log/bootstrap.log',
  // What mmdebstrap's `apt-get clean` and `apt-get update` with no sources remove.
  '/var/cache/apt/*.bin',
  '/var/cache/apt/archives/*.deb',
  '/var/lib/apt/lists/*_*',
  '/var/lib/apt/lists/auxfiles',
  '/var/log/pacman.log',
  '/var/lib/pacman/sync/*',
  '/var/cache/pacman/pkg/*',
  '/var/log/dnf.log',
  '/var/log/dnf.librepo.log',
  '/var/log/dnf.rpm.log',
  '/var/log/hawkey.log',
  '/var/cache/dnf/*',
  '/var/lib/dnf/history.sqlite*',
  '/var/log/zypper.log',
  '/var/log/zypp/history',
  '/var/cache/zypp/*',
  // A random ID libzypp makes on first use; it makes a new one when it is missing.
  '/var/lib/zypp/AnonymousUniqueId',
];

/** pacman writes the time of installation into its database (libalpm 13 ignores SOURCE_DATE_EPOCH). */
export function clampInstallDate(desc: string, epoch: number): string {
  return desc.replace(/^(%INSTALLDATE%\n)(\d+)$/m, (match, header: string, date: string) => (Number(date) > epoch ? `${header}${epoch}` : match));
}

async function clampPacmanInstallDates(root: string, epoch: number): Promise<void> {
  let local: string;
  try {
    local = await resolveInRoot(root, 'var/lib/pacman/local');
  } catch {
    return;
  }
  const entries = await fs.readdir(local, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const desc = path.join(local, entry.name, 'desc');
    const stat = await fs.lstat(desc).catch(() => undefined);
    if (!stat?.isFile()) continue;
    const text = await fs.readFile(desc, 'utf8');
    const clamped = clampInstallDate(text, epoch);
    if (clamped !== text) await fs.writeFile(desc, clamped);
  }
}

export const removeBuildRecords: Stage = {
  title: 'Removing logs and caches that record the build',
  enabled: (context: BuildContext) => context.reproducibility.epoch !== null,
  async run(context) {
    for (const pattern of BUILD_RECORDS) {
      const removed = await removeGlobInRoot(context.root, pattern);
      if (removed.length > 0) debug(`removed ${removed.length} × ${pattern}`);
    }
    await clampPacmanInstallDates(context.root, context.reproducibility.epoch!);
  },
};

/**
 * The same, before the incremental cache keeps the root: later builds use it through an overlay, where
 * changing a time would copy the whole file up, so the cached root must carry clamped times already.
 */
export const clampCachedTimes: Stage = {
  title: 'Clamping file times to SOURCE_DATE_EPOCH',
  enabled: (context: BuildContext) => context.reproducibility.epoch !== null && context.config.Incremental && !context.reusedCachedRoot,
  run: (context) => clampTimes.run(context),
};

export const clampTimes: Stage = {
  title: 'Clamping file times to SOURCE_DATE_EPOCH',
  enabled: (context: BuildContext) => context.reproducibility.epoch !== null,
  async run(context) {
    const changed = await clampTreeTimes(context.root, context.reproducibility.epoch!);
    debug(`clamped the times of ${changed} entries to ${context.reproducibility.epoch}`);
  },
};
