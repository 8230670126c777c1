/**
 * Debian and Ubuntu: the base system comes from mmdebstrap (apt resolves and installs everything in
 * one pass — the fast path) or debootstrap (then apt-get in the container, as mkosi 14 does).
 * Downloaded .deb files are kept in the package cache and offered to the next build.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runInContainer } from '../container.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { ToolError } from '../errors.js';
import { isDeb, lockPackageCache, offerCachedPackages, publishPackages, withPackageCache } from '../cache/package-cache.js';
import type { Release } from '../lock.js';
import { run } from '../run.js';
import { buildSources, components, debianArchitecture, hostAptSources, imageSources, sourceLine } from './apt-sources.js';
import { openHookPipe } from './hook-pipe.js';
import { hasMergedUsrHook, linkMergedUsr, MERGED_USR_HOOK, unlinkMergedUsr } from './merged-usr.js';
import type { PackageManager } from './types.js';

const ARCHIVES = 'var/cache/apt/archives';

/** mkosi 14's WithDocs=no: these are emptied, and dpkg keeps them empty for later installs too. */
export const DOC_PATHS = [
  '/usr/share/locale',
  '/usr/share/doc',
  '/usr/share/man',
  '/usr/share/groff',
  '/usr/share/info',
  '/usr/share/lintian',
  '/usr/share/linda',
];

/** dpkg's configuration for WithDocs=no, kept in the image so later installs stay lean too. */
const NODOC = DOC_PATHS.map((p) => `path-exclude ${p}/*\n`).join('');

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true', INITRD: 'No' };

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

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
  argv.push(config.Release, context.root, ...sources.map(sourceLine));
  await run(argv, {
    what: `Installing ${config.Distribution} ${config.Release} with mmdebstrap`,
    hint: 'check Mirror=, Release= and Packages=; --debug=run shows the full output',
  });
}

async function debootstrap(context: BuildContext, packages: readonly string[]): Promise<void> {
  const { config } = context;
  const mirror = config.LocalMirror ?? config.Mirror!;
  const argv = [
    'debootstrap',
    '--variant=minbase',
    '--include=ca-certificates',
    '--merged-usr',
    `--components=${components(config).join(',')}`,
    `--arch=${debianArchitecture(config.Architecture)}`,
    `--cache-dir=${context.packageCache}`,
  ];
  if (!config.RepositoryKeyCheck || config.LocalMirror) argv.push('--no-check-gpg');
  argv.push(config.Release, context.root, mirror);
  await run(argv, {
    what: `Installing ${config.Distribution} ${config.Release} with debootstrap`,
    hint: 'check Mirror= and Release=; --debug=run shows the full output',
  });
  await writeSources(context);
  await installWithApt(context, packages);
}

/** apt-get in the container, with the package cache bound and daemons kept from starting. */
async function installWithApt(context: BuildContext, packages: readonly string[]): Promise<void> {
  const script = [
    'set -e',
    'printf "#!/bin/sh\\nexit 101\\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d',
    'echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/kiln-unsafe-io',
    context.config.WithDocs ? '' : `printf ${shellQuote(NODOC)} > /etc/dpkg/dpkg.cfg.d/01_nodoc`,
    'apt-get update -q',
    `apt-get install -y -q --no-install-recommends ${packages.map(shellQuote).join(' ')}`,
    'rm -f /usr/sbin/policy-rc.d /etc/dpkg/dpkg.cfg.d/kiln-unsafe-io',
  ].filter(Boolean);
  await runInContainer(context, ['sh', '-c', script.join('\n')], {
    network: true,
    env: APT_ENV,
    packageCache: ARCHIVES,
    what: 'Installing packages with apt-get',
    hint: 'check the package names in Packages=',
  });
}

async function writeSources(context: BuildContext): Promise<void> {
  const lines = imageSources(context.config, hostAptSources()).map(sourceLine);
  await fs.writeFile(path.join(context.root, 'etc/apt/sources.list'), `${lines.join('\n')}\n`);
}

/**
 * mmdebstrap with the package cache: the cached packages are offered to it, and it downloads the
 * rest holding the cache's lock — until its extract hook says every package is there; those are
 * published into the cache and the lock goes to the next build, which then downloads nothing twice.
 */
async function bootstrapWithMmdebstrap(context: BuildContext, wanted: readonly string[]): Promise<void> {
  const cache = context.packageCache;
  const archives = path.join(context.root, ARCHIVES);
  // One of its own for each root: a development image's downloads are already in the cache.
  const newDebs = await fs.mkdtemp(path.join(context.workspace, 'new-debs-'));
  let release: Release | undefined = await lockPackageCache(cache);
  const handOver = async (): Promise<void> => {
    try {
      await publishPackages(archives, cache, isDeb, { move: false });
    } finally {
      const releasing = release;
      release = undefined;
      await releasing?.();
    }
  };
  const pipe = await openHookPipe(context.workspace, 'mmdebstrap-hook');
  let handing: Promise<void> | undefined;
  pipe.onLine((line) => {
    if (line === 'downloaded') handing ??= handOver();
  });
  try {
    await offerCachedPackages(cache, archives, isDeb);
    await mmdebstrap(context, wanted, newDebs, pipe.path);
    await handing;
  } finally {
    pipe.close();
    await handing?.catch(() => undefined);
    await release?.();
  }
  // Whatever the early download missed, mmdebstrap fetched while installing.
  await publishPackages(newDebs, cache, isDeb, { move: true });
  if (context.config.LocalMirror) await writeSources(context);
}

/** The base system and packages, with whichever bootstrapper the configuration picked. */
async function bootstrap(context: BuildContext, wanted: readonly string[]): Promise<void> {
  await unlinkMergedUsr(context.root, debianArchitecture(context.config.Architecture));
  if (context.config.Bootstrapper === 'mmdebstrap') {
    await bootstrapWithMmdebstrap(context, wanted);
  } else {
    // debootstrap and apt write into the shared cache in place: one build at a time.
    await withPackageCache(context.packageCache, () => debootstrap(context, wanted));
  }
}

/** apt's way of saying a name in Packages= does not exist, turned into one clear line. */
export function explainAptFailure(error: unknown): unknown {
  if (!(error instanceof ToolError)) return error;
  const unknown = [...error.stderrTail.matchAll(/E: (?:Unable to locate package |Package '?)([^\s']+)'?(?: has no installation candidate)?/g)]
    .map((match) => match[1]!)
    .filter((name, index, all) => all.indexOf(name) === index);
  if (unknown.length === 0) return error;
  return new ToolError(error.argv, `unknown package${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, {
    code: error.code,
    stderrTail: error.stderrTail,
    hint: 'check the names in Packages= (apt-cache search NAME on a Debian system finds the right one)',
  });
}

export const apt: PackageManager = {
  name: 'apt',

  // Skeleton trees come first; with the merged-/usr links in place their bin/ lands in usr/bin.
  prepareRoot: (context) => linkMergedUsr(context.root, debianArchitecture(context.config.Architecture)),
  requiredTools: (config) => [config.Bootstrapper ?? 'debootstrap', 'dpkg-query', 'systemd-nspawn'],

  async install(context, packages) {
    const wanted = [...new Set(['ca-certificates', ...packages])];
    try {
      await bootstrap(context, wanted);
    } catch (error) {
      throw explainAptFailure(error);
    }
    if (!context.config.WithDocs) {
      await Promise.all(DOC_PATHS.map((p) => emptyDirectory(path.join(context.root, p))));
    }
  },

  async installMore(context, packages) {
    try {
      await withPackageCache(context.packageCache, () => installWithApt(context, packages));
    } catch (error) {
      throw explainAptFailure(error);
    }
  },

  async remove(context, packages) {
    await runInContainer(context, ['apt-get', 'purge', '-y', '-q', '--auto-remove', ...packages], {
      network: false,
      env: APT_ENV,
      what: 'Removing packages (RemovePackages=)',
    });
  },

  async listInstalled(context): Promise<InstalledPackage[]> {
    const { stdout } = await run(
      ['dpkg-query', `--admindir=${path.join(context.root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\n'],
      // Captured even with --debug=run, which otherwise shows commands' output instead of keeping it.
      { stdio: 'pipe', what: 'Listing installed packages' },
    );
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', version = '', architecture = ''] = line.split('\t');
        return { type: 'deb' as const, name, version, architecture };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },

  cacheMountPoint: ARCHIVES,
};

async function emptyDirectory(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.map((name) => fs.rm(path.join(dir, name), { recursive: true, force: true })));
}
