/**
 * mmdebstrap, kiln's fast path for Debian and Ubuntu: apt resolves and installs everything in one
 * pass. Around it kiln keeps the package cache (mmdebstrap has none of its own): the cached packages
 * are offered in the root's archive directory, and what apt downloaded goes back into the cache.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { downloadHoldingCache } from '../cache/download-lock.js';
import { isDeb, publishPackages } from '../cache/package-cache.js';
import type { BuildContext } from '../context.js';
import { epochEnvironment } from '../reproducible.js';
import { run } from '../run.js';
import { buildSources, debianArchitecture, hostAptSources, removeBuildSources, repositoryDirectorySources, sourceLine, writeImageSources, components } from './apt-sources.js';
import { ARCHIVES, NODOC, shellQuote } from './dpkg-setup.js';
import { openHookPipe } from './hook-pipe.js';
import { hasMergedUsrHook, MERGED_USR_HOOK } from './merged-usr.js';

/**
 * What mmdebstrap's minbase variant installs after the essential packages besides --include (its
 * run_install()): the required packages of the suite. Fetched early, with the essential ones.
 */
export function requiredPattern(release: string, architecture: string): string {
  return `?narrow(?or(?archive(^${release}$),?codename(^${release}$)),?architecture(${architecture}),?and(?priority(required),?not(?essential)))`;
}

/**
 * mmdebstrap downloads the essential packages, extracts them, and downloads the rest only while
 * installing it. The extract hook fetches the rest at once (with mmdebstrap's own apt
 * configuration) and then says so on the pipe: from there on, this build no longer needs the
 * package cache's lock.
 */
function downloadHook(config: BuildContext['config'], packages: readonly string[], pipe: string): string {
  const pattern = requiredPattern(config.Release, debianArchitecture(config.Architecture));
  // The merged-usr hook installs usr-is-merged in its essential hook, over a stand-in of its own.
  const hooked = hasMergedUsrHook() ? ['usr-is-merged'] : [];
  const names = [...packages, ...hooked, pattern].map(shellQuote).join(' ');
  return `APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get --yes --quiet --download-only install ${names} && echo downloaded > ${shellQuote(pipe)}`;
}

async function mmdebstrap(context: BuildContext, packages: readonly string[], newDebs: string, pipe: string): Promise<void> {
  const { config } = context;
  const argv = [
    'mmdebstrap',
    '--mode=root',
    '--format=directory',
    '--variant=minbase',
    // The root may already hold the skeleton trees and the cached downloads.
    '--skip=check/empty',
    '--skip=essential/unlink',
    `--architectures=${debianArchitecture(config.Architecture)}`,
    `--components=${components(config).join(',')}`,
    `--include=${packages.join(',')}`,
    // Speed: no fsync per file while building; the setting is removed again below.
    `--setup-hook=mkdir -p "$1/etc/dpkg/dpkg.cfg.d" && echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/kiln-unsafe-io"`,
    `--extract-hook=${downloadHook(config, packages, pipe)}`,
    `--customize-hook=rm -f "$1/etc/dpkg/dpkg.cfg.d/kiln-unsafe-io"; find "$1/${ARCHIVES}" -maxdepth 1 -name '*.deb' -exec mv -t ${shellQuote(newDebs)} {} +`,
  ];
  // Not --dpkgopt=path-exclude: with it mmdebstrap pipes every essential package through a Python
  // filter (measured: 4-5 s slower). The same file, written by a hook, serves dpkg; what the essential
  // extraction leaves is emptied after the bootstrap, as mkosi 14 does.
  if (!config.WithDocs) argv.push(`--setup-hook=printf ${shellQuote(NODOC)} > "$1/etc/dpkg/dpkg.cfg.d/01_nodoc"`);
  // Merged /usr by links, as debootstrap makes it, instead of the usrmerge package (and perl).
  if (hasMergedUsrHook()) argv.push(`--hook-dir=${MERGED_USR_HOOK}`);
  if (!config.RepositoryKeyCheck) {
    argv.push('--aptopt=Acquire::AllowInsecureRepositories "true"', '--aptopt=APT::Get::AllowUnauthenticated "true"');
  }
  const sources = buildSources(config, hostAptSources());
  // A MIRROR that is a file is pasted into sources.list.d/ as NNNN<its name> (mmdebstrap's rule).
  const extra = repositoryDirectorySources(config);
  argv.push(config.Release, context.root, ...sources.map(sourceLine), ...extra);
  try {
    await run(argv, {
      // The kernel's postinst must not run dracut: kiln makes the initrd once, after the extra trees.
      // mmdebstrap hands SOURCE_DATE_EPOCH to apt, dpkg and the maintainer scripts, and clamps what it writes itself.
      env: { INITRD: 'No', ...epochEnvironment(context.reproducibility.epoch) },
      what: `Installing ${config.Distribution} ${config.Release} with mmdebstrap`,
      hint: 'check Mirror=, Release= and Packages=; --debug=run shows the full output',
    });
  } finally {
    const names = extra.map((file) => path.basename(file));
    await removeBuildSources(context.root, (name) => /^\d{4}/.test(name) && names.some((base) => name.slice(4).startsWith(base)));
  }
}

/**
 * mmdebstrap with the package cache: the cached packages are offered in the root's archive directory,
 * and it downloads the rest holding the cache's lock — until its extract hook says every package is
 * there (downloadHoldingCache()).
 */
export async function bootstrapWithMmdebstrap(context: BuildContext, wanted: readonly string[]): Promise<void> {
  const cache = context.packageCache;
  const archives = path.join(context.root, ARCHIVES);
  // One of its own for each root: a development image's downloads are already in the cache.
  const newDebs = await fs.mkdtemp(path.join(context.workspace, 'new-debs-'));
  const pipe = await openHookPipe(context.workspace, 'mmdebstrap-hook');
  try {
    await downloadHoldingCache(context, archives, async (downloaded) => {
      pipe.onLine((line) => {
        if (line === 'downloaded') downloaded();
      });
      await mmdebstrap(context, wanted, newDebs, pipe.path);
    });
  } finally {
    pipe.close();
  }
  // Whatever the early download missed, mmdebstrap fetched while installing.
  await publishPackages(newDebs, cache, isDeb, { move: true });
  if (context.config.LocalMirror) await writeImageSources(context.root, context.config);
}

