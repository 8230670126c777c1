/**
 * The two builders and their projects. Every (tool, case) pair gets its own temporary project
 * directory made from bench/configs/seed or one of images/ — the same files for both tools —
 * with its own copy (hard links) of that tool's warmed package cache in mkosi.cache/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SEED = fileURLToPath(new URL('../configs/seed/', import.meta.url));
/** The repository's example projects (images/), benchmarked as they are. */
export const IMAGES = fileURLToPath(new URL('../../images/', import.meta.url));

/** mkosi 14's base packages for Debian (debootstrap's --include plus its extra apt run); kiln's too. */
export const BASE_PACKAGES = ['ca-certificates', 'systemd', 'systemd-sysv', 'dbus', 'libpam-systemd'];
export const SEED_PACKAGES = ['systemd-container'];

/**
 * Small packages the "package added" case adds, one per repetition (each repetition must add a
 * package no earlier one added, or kiln's cache would simply hit). All are fetched while warming.
 */
/** What mkosi 14 and kiln leave out with WithDocs=no. */
const DOC_PATHS = ['/usr/share/locale', '/usr/share/doc', '/usr/share/man', '/usr/share/groff', '/usr/share/info', '/usr/share/lintian', '/usr/share/linda'];

export const ADDED_PACKAGES = ['tree', 'ed', 'pv', 'less', 'psmisc'];

/** The BuildPackages= of images/build-from-source: fetched while warming too. */
export const BUILD_PACKAGES = ['gcc', 'make', 'libc6-dev'];

/**
 * A project's mkosi.default with the host's release and mirror (mkosi 14 would take Debian testing
 * from a fixed host name), and, when given, another format and package list, and more settings
 * (`append`: section name to lines, put under that section's header, which is added if missing).
 */
export function renderConfig({ source, release, mirror, format, packages, append }) {
  let text = readFileSync(path.join(source, 'mkosi.default'), 'utf8');
  if (!/^Distribution=debian$/m.test(text)) throw new Error(`${source}mkosi.default: the benchmark builds Debian projects only`);
  text = text.replace(/^Distribution=debian$/m, `Distribution=debian\nRelease=${release}\nMirror=${mirror}`);
  if (format) text = text.replace(/^Format=.*$/m, `Format=${format}`);
  if (packages) text = text.replace(/^Packages=.*$/m, `Packages=${packages.join(',')}`);
  for (const [section, lines] of Object.entries(append ?? {})) {
    const header = `[${section}]`;
    text = text.includes(`\n${header}\n`) ? text.replace(`\n${header}\n`, `\n${header}\n${lines.join('\n')}\n`) : `${text}\n${header}\n${lines.join('\n')}\n`;
  }
  return text;
}

export class Project {
  constructor(dir, settings) {
    this.dir = dir;
    this.settings = settings;
  }

  /** A copy of `settings.source` (default: the seed) with its own copy of a warmed package cache. */
  static async create(dir, settings, packageCache) {
    settings = { source: SEED, ...settings };
    await fs.mkdir(dir, { recursive: true });
    // The files git tracks, not what a build in the source left there (image.tar.xz, mkosi.cache/).
    const files = execFileSync('git', ['-C', settings.source, 'ls-files', '-z', '.'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    if (files.length === 0) throw new Error(`${settings.source}: git tracks no files there`);
    execFileSync('cp', ['-a', '--parents', '-t', path.resolve(dir), ...files], { cwd: settings.source });
    if (packageCache && existsSync(packageCache)) execFileSync('cp', ['-al', packageCache, path.join(dir, 'mkosi.cache')]);
    else await fs.mkdir(path.join(dir, 'mkosi.cache'));
    const project = new Project(dir, settings);
    project.configure({});
    return project;
  }

  /** Rewrites mkosi.default with changed settings (the "add a package" edit). */
  configure(changes) {
    this.settings = { ...this.settings, ...changes };
    writeFileSync(path.join(this.dir, 'mkosi.default'), renderConfig(this.settings));
  }

  /**
   * Makes the project a git repository with everything committed, as a real project with a build
   * script is: both tools then copy its sources with SourceFileTransfer=copy-git-others (mkosi 14's
   * default there), which leaves out what .gitignore names (the image, the build directory, the
   * caches). Without git, mkosi 14 would copy all of those into every development image.
   */
  commitAll() {
    const git = (...args) => execFileSync('git', ['-C', this.dir, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { stdio: 'pipe' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'project');
  }

  /** Rewrites a file of the project (a source edit), keeping nothing else of the old content. */
  writeFile(relative, content) {
    writeFileSync(path.join(this.dir, relative), content);
  }

  /** The mkosi.extra edit: new content for the marker file. */
  editExtra(content) {
    writeFileSync(path.join(this.dir, 'mkosi.extra/etc/kiln-bench/marker'), content);
  }

  get cache() {
    return path.join(this.dir, 'mkosi.cache');
  }
}

/** The command line of `kiln qemu` for a project (a build must have made its image). */
export function qemuArgv(project, kilnBin) {
  return [process.execPath, kilnBin, '--cache', project.cache, 'qemu'];
}

/** The command line of one build; `extra` goes before the verb (--all, --jobs=1). */
export function buildArgv(tool, project, { incremental = false, kilnBin, kilnDebug = false, extra = [] }) {
  const flags = ['--force', ...(incremental ? ['--incremental'] : []), ...extra];
  if (tool === 'mkosi') return ['mkosi', '--nspawn-keep-unit', ...flags, 'build'];
  if (tool === 'kiln') {
    // node itself, not a shell wrapper, so that the pid we start is kiln's node process.
    return [process.execPath, kilnBin, '--cache', project.cache, ...flags, ...(kilnDebug ? ['--debug=run'] : []), 'build'];
  }
  throw new Error(`unknown tool ${tool}`);
}

/** The three images of the --all case: one file each in mkosi.files/, named apart by ImageId=. */
export const ALL_IMAGES = [
  { id: 'dir', format: 'directory', output: 'dir' },
  { id: 'tar', format: 'tar', output: 'tar.tar.xz' },
  { id: 'disk', format: 'gpt_ext4', output: 'disk.raw' },
];

/**
 * A project for --all: the seed's mkosi.extra/ at the top and one mkosi.files/mkosi.<id> per image
 * (the seed's mkosi.default with the image's Format= and ImageId=); mkosi.default itself goes.
 */
export async function makeAllProject(project) {
  const text = readFileSync(path.join(project.dir, 'mkosi.default'), 'utf8');
  await fs.mkdir(path.join(project.dir, 'mkosi.files'));
  for (const image of ALL_IMAGES) {
    const file = text.replace(/^Format=.*$/m, `Format=${image.format}\nImageId=${image.id}`);
    writeFileSync(path.join(project.dir, 'mkosi.files', `mkosi.${image.id}`), file);
  }
  await fs.rm(path.join(project.dir, 'mkosi.default'));
}

const UNSAFE_IO = `--setup-hook=mkdir -p "$1/etc/dpkg/dpkg.cfg.d" && echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/kiln-unsafe-io"`;

/**
 * mmdebstrap on its own, installing what kiln installs for the seed config (same sources, the same
 * warmed .debs offered in the archive directory), as a floor for kiln's cold build. Variants:
 * - plain:    `mmdebstrap --variant=minbase --include=…` and nothing else;
 * - kiln:     as kiln calls it today: dpkg's force-unsafe-io, and the documentation left out with
 *             --dpkgopt=path-exclude (which makes mmdebstrap pipe every essential package through
 *             mmtarfilter while extracting);
 * - proposed: force-unsafe-io, the same path-exclude lines written as a dpkg.cfg.d file by a setup
 *             hook (dpkg honours them, mmdebstrap's extraction does not filter, the documentation of
 *             the essential packages is removed afterwards as kiln already does), and merged /usr
 *             from mmdebstrap's own hook instead of the usrmerge package and the perl it pulls in.
 */
export function mmdebstrapArgv({ release, sourceLines, debs, target, variant = 'plain' }) {
  const argv = [
    'mmdebstrap',
    '--variant=minbase',
    `--include=${[...BASE_PACKAGES, ...SEED_PACKAGES].join(',')}`,
    '--skip=download/empty',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" && find ${JSON.stringify(debs)} -maxdepth 1 -name '*.deb' -exec cp -al -t "$1/var/cache/apt/archives/" {} +`,
  ];
  if (variant === 'kiln') argv.push(UNSAFE_IO, ...DOC_PATHS.map((dir) => `--dpkgopt=path-exclude=${dir}/*`));
  if (variant === 'proposed') {
    const lines = DOC_PATHS.map((dir) => `path-exclude=${dir}/*`).join('\\n');
    argv.push(
      UNSAFE_IO,
      `--setup-hook=printf '${lines}\\n' > "$1/etc/dpkg/dpkg.cfg.d/01_nodoc"`,
      '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
      `--customize-hook=for d in ${DOC_PATHS.join(' ')}; do find "$1$d" -mindepth 1 -delete 2>/dev/null || true; done`,
    );
  }
  return [...argv, release, target, ...sourceLines];
}
