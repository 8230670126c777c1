/**
 * Debian and Ubuntu: the base system comes from mmdebstrap (apt resolves and installs everything in
 * one pass — the fast path) or debootstrap (then apt-get in the container, as mkosi 14 does).
 * Downloaded .deb files are kept in the package cache and offered to the next build.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { downloadHoldingCache } from '../cache/download-lock.js';
import { isDeb } from '../cache/package-cache.js';
import { runInContainer } from '../container.js';
import type { BuildContext, InstalledPackage } from '../context.js';
import { ToolError } from '../errors.js';
import { epochEnvironment } from '../reproducible.js';
import { run } from '../run.js';
import { writeFileInRoot } from '../tree/safe-path.js';
import { components, debianArchitecture, removeBuildSources, repositoryDirectorySources, writeImageSources } from './apt-sources.js';
import { debChangelogs } from './deb-changelog.js';
import { ARCHIVES, DOC_PATHS, NODOC, shellQuote } from './dpkg-setup.js';
import { linkMergedUsr, unlinkMergedUsr } from './merged-usr.js';
import { bootstrapWithMmdebstrap } from './mmdebstrap.js';
import type { PackageManager } from './types.js';

/** dpkg's setting for speed while kiln builds the root, never left in the image. */
const UNSAFE_IO = 'etc/dpkg/dpkg.cfg.d/kiln-unsafe-io';

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true', INITRD: 'No' };

async function debootstrap(context: BuildContext, packages: readonly string[]): Promise<void> {
  const { config } = context;
  const mirror = config.LocalMirror ?? config.Mirror!;
  const downloads = await fs.mkdtemp(path.join(context.workspace, 'debootstrap-cache-'));
  const argv = [
    'debootstrap',
    '--variant=minbase',
    '--include=ca-certificates',
    '--merged-usr',
    `--components=${components(config).join(',')}`,
    `--arch=${debianArchitecture(config.Architecture)}`,
    `--cache-dir=${downloads}`,
  ];
  if (!config.RepositoryKeyCheck || config.LocalMirror) argv.push('--no-check-gpg');
  argv.push(config.Release, context.root, mirror);
  // debootstrap's second stage runs the root's own dpkg, which reads this: no fsync per file while
  // the image is made (mkosi 14 does the same). installInContainer() removes it when it is done.
  await writeFileInRoot(context.root, UNSAFE_IO, 'force-unsafe-io\n');
  await downloadHoldingCache(context, downloads, (downloaded) =>
    run(argv, {
      env: epochEnvironment(context.reproducibility.epoch),
      what: `Installing ${config.Distribution} ${config.Release} with debootstrap`,
      hint: 'check Mirror= and Release=; --debug=run shows the full output',
      // debootstrap fetches every package before it extracts the first one.
      onOutput: (line) => {
        if (/^I: (Chosen extractor|Extracting )/.test(line)) downloaded();
      },
    }),
  );
  await writeImageSources(context.root, context.config);
  await installWithApt(context, packages);
}

/** apt-get in the container, with the build's own sources (RepositoryDirectory=) for as long as it runs. */
async function installWithApt(context: BuildContext, packages: readonly string[]): Promise<void> {
  const extra = repositoryDirectorySources(context.config);
  for (const file of extra) {
    await writeFileInRoot(context.root, `etc/apt/sources.list.d/${BUILD_SOURCE}${path.basename(file)}`, await fs.readFile(file), 0o644);
  }
  try {
    await installInContainer(context, packages);
  } finally {
    await removeBuildSources(context.root, (name) => name.startsWith(BUILD_SOURCE));
  }
}

const BUILD_SOURCE = 'kiln-build-';

/**
 * apt's downloaded indexes and its binary caches (~165 MB for bookworm), as mmdebstrap's cleanup
 * removes them: the lists' lock and partial/ stay, as there.
 */
const DROP_INDEXES = "find /var/lib/apt/lists -mindepth 1 -maxdepth 1 ! -name lock ! -name partial -exec rm -rf {} + && rm -f /var/cache/apt/pkgcache.bin /var/cache/apt/srcpkgcache.bin";

/**
 * Whether apt-get's indexes leave the root after it installed packages. A root mmdebstrap made has
 * none, so a cached root extended with a package must have none either: the image may not depend on
 * whether it was bootstrapped or extended. debootstrap leaves them (mkosi 14's images have them), and
 * so do roots extended from one of its roots. With BaseImage= the image is the changes to the base,
 * and the indexes are none of them.
 */
function withoutIndexes(config: BuildContext['config']): boolean {
  return config.Bootstrapper === 'mmdebstrap' || config.BaseImage !== null;
}

/**
 * apt-get in the container, daemons kept from starting. Its archive directory is one of the build's
 * own, offered the cached packages: it downloads first, says so on a line of its own, and installs
 * while the next build has the package cache.
 */
async function installInContainer(context: BuildContext, packages: readonly string[]): Promise<void> {
  const downloads = await fs.mkdtemp(path.join(context.workspace, 'apt-archives-'));
  const marker = `kiln: downloaded ${randomBytes(8).toString('hex')}`;
  const install = `apt-get install -y -q --no-install-recommends ${packages.map(shellQuote).join(' ')}`;
  const script = [
    'set -e',
    'printf "#!/bin/sh\\nexit 101\\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d',
    `echo force-unsafe-io > /${UNSAFE_IO}`,
    context.config.WithDocs ? '' : `printf ${shellQuote(NODOC)} > /etc/dpkg/dpkg.cfg.d/01_nodoc`,
    'apt-get update -q',
    `${install} --download-only`,
    `echo ${shellQuote(marker)}`,
    install,
    `rm -f /usr/sbin/policy-rc.d /${UNSAFE_IO}`,
    withoutIndexes(context.config) ? DROP_INDEXES : '',
  ].filter(Boolean);
  await downloadHoldingCache(context, downloads, (downloaded) =>
    runInContainer(context, ['sh', '-c', script.join('\n')], {
      network: true,
      env: APT_ENV,
      binds: [{ source: downloads, target: `/${ARCHIVES}` }],
      onOutput: (line) => {
        if (line.trim() === marker) downloaded();
      },
      what: 'Installing packages with apt-get',
      hint: 'check the package names in Packages=',
    }),
  );
}

/** The base system and packages, with whichever bootstrapper the configuration picked. */
async function bootstrap(context: BuildContext, wanted: readonly string[]): Promise<void> {
  await unlinkMergedUsr(context.root, debianArchitecture(context.config.Architecture));
  if (context.config.Bootstrapper === 'mmdebstrap') {
    await bootstrapWithMmdebstrap(context, wanted);
  } else {
    await debootstrap(context, wanted);
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
      await installWithApt(context, packages);
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
      ['dpkg-query', `--admindir=${path.join(context.root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${Installed-Size}\\n'],
      // Captured even with --debug=run, which otherwise shows commands' output instead of keeping it.
      { stdio: 'pipe', read: true, what: 'Listing installed packages' },
    );
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', version = '', architecture = '', source, size] = line.split('\t');
        // dpkg records the size in KiB, and not for every package.
        return { type: 'deb' as const, name, version, architecture, source: source || name, size: size ? Number(size) * 1024 : 0 };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },

  changelogs: debChangelogs,

  cacheMountPoint: ARCHIVES,
  cacheFiles: isDeb,
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
