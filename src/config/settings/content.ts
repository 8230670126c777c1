/** [Content] settings (mkosi ≤ 10 called the section [Packages]). */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bool,
  boolOr,
  enumeration,
  list,
  pathList,
  pathSetting,
  script,
  string,
  type ResolveContext,
} from '../setting.js';
import { SOURCE_FILE_TRANSFERS, type SourceFileTransfer } from '../types.js';
import { detect, detected, distributionSubdir, readDetected, withDistributionSubdir } from './auto-detect.js';

const section = 'Content';

/** mkosi.<name>/ and/or mkosi.<name>.tar, when the list is empty (mkosi's find_extra/find_skeleton). */
function treesNextToConfig(name: string) {
  return (context: ResolveContext): string[] =>
    [detect(context, name, 'directory'), detect(context, `${name}.tar`, 'file')].filter((p): p is string => p !== null);
}

/** RemoveFiles= globs are anchored at / and normalised like os.path.normpath() (mkosi 14). */
function normalizeRemoveFile(raw: string): string {
  return `/${path.posix.normalize(raw).replace(/^\/+/, '').replace(/\/+$/, '')}`;
}

/**
 * Where caches go: Cache= (plus mkosi 14's <distribution>~<release>), else mkosi.cache/ next to the
 * configuration, else — kiln's default, mkosi 14 had none — the user's cache directory.
 */
function defaultCache(context: ResolveContext): string {
  const subdir = distributionSubdir(context);
  const local = detect(context, 'mkosi.cache', 'directory');
  if (local) return path.join(local, subdir);
  const xdg = context.env.XDG_CACHE_HOME;
  const base = xdg ? path.join(xdg, 'kiln') : os.userInfo().uid === 0 ? '/var/cache/kiln' : path.join(os.homedir(), '.cache', 'kiln');
  return path.join(base, subdir);
}

/** `K=V` sets, a bare `K` passes the host's value through (empty when unset), as mkosi 14 does. */
function toEnvironment(items: readonly string[], context: ResolveContext): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    environment[key] = value || (context.env[key] ?? '');
  }
  return environment;
}

function defaultPassword(context: ResolveContext): string | null {
  const file = detect(context, 'mkosi.rootpw', 'file');
  if (!file) return null;
  if ((statSync(file).mode & 0o007) !== 0) {
    context.warn(`${file} can be read by other users; make it private with chmod 600`);
  }
  return readDetected(context, 'mkosi.rootpw');
}

export const contentSettings = {
  BasePackages: boolOr(['conditional'], {
    section,
    flags: ['--base-packages'],
    mkosi: 'base_packages',
    default: true,
    finalize: (value, context) => (context.get('BaseImage') !== null ? false : value),
    doc: 'Add the distribution\'s base packages (systemd and friends): yes, no or conditional',
  }),
  Packages: list({
    section,
    flags: ['-p', '--package'],
    mkosi: 'packages',
    delimiter: ',',
    doc: 'Packages to install',
  }),
  BuildPackages: list({ section, flags: ['--build-package'], mkosi: 'build_packages', delimiter: ',', status: 'unsupported', doc: 'Packages for the build image of a build script' }),
  RemovePackages: list({
    section,
    flags: ['--remove-package'],
    mkosi: 'remove_packages',
    delimiter: ',',
    doc: 'Packages to remove at the end of the build',
  }),
  WithDocs: bool({ section, flags: ['--with-docs'], mkosi: 'with_docs', default: false, doc: 'Keep documentation in the image' }),
  WithTests: bool({
    section,
    flags: ['-T', '--without-tests', '--with-tests'],
    mkosi: 'with_tests',
    default: true,
    status: 'unsupported',
    doc: 'Run tests in the build script ($WITH_TESTS)',
  }),
  Cache: pathSetting({
    section,
    flags: ['--cache'],
    mkosi: 'cache_path',
    default: defaultCache,
    fromRaw: withDistributionSubdir('mkosi.cache').fromRaw,
    doc: 'Cache directory, with a <distribution>~<release> subdirectory (default: mkosi.cache/ if it exists, else /var/cache/kiln)',
  }),
  SkeletonTrees: pathList({
    section,
    flags: ['--skeleton-tree'],
    mkosi: 'skeleton_trees',
    // mkosi 14 appends each assignment whole: SkeletonTrees=a,b is one path "a,b".
    delimiter: 'newline',
    whenEmpty: treesNextToConfig('mkosi.skeleton'),
    doc: 'Trees or .tar archives copied into the image before packages are installed (default: mkosi.skeleton/, mkosi.skeleton.tar)',
  }),
  ExtraTrees: pathList({
    section,
    flags: ['--extra-tree'],
    mkosi: 'extra_trees',
    delimiter: ',',
    whenEmpty: treesNextToConfig('mkosi.extra'),
    doc: 'Trees or .tar archives copied into the image after packages are installed (default: mkosi.extra/, mkosi.extra.tar)',
  }),
  CleanPackageMetadata: boolOr(['auto'], {
    section,
    flags: ['--clean-package-metadata'],
    mkosi: 'clean_package_metadata',
    default: 'auto',
    doc: 'Remove package manager databases: yes, no, or auto (when the package manager is not in the image)',
  }),
  RemoveFiles: list({
    section,
    flags: ['--remove-files'],
    mkosi: 'remove_files',
    delimiter: ',',
    item: normalizeRemoveFile,
    doc: 'Globs of files to delete from the image at the end of the build',
  }),
  Environment: list<Readonly<Record<string, string>>>({
    section,
    flags: ['-E', '--environment', '--build-environment'],
    mkosi: 'environment',
    delimiter: ' ',
    finalize: toEnvironment,
    metavar: 'NAME[=VALUE]',
    doc: 'Environment for the scripts; NAME alone passes the host\'s value through',
  }),
  BuildSources: pathSetting({
    section,
    flags: ['--build-sources'],
    mkosi: 'build_sources',
    default: (context) => context.directory,
    status: 'unsupported',
    doc: 'Source tree of the build script',
  }),
  BuildDirectory: pathSetting({
    section,
    flags: ['--build-directory', '--build-dir'],
    mkosi: 'build_dir',
    ...withDistributionSubdir('mkosi.builddir'),
    status: 'unsupported',
    neutral: null,
    doc: 'Persistent build directory of the build script (default: mkosi.builddir/)',
  }),
  IncludeDirectory: pathSetting({ section, flags: ['--include-directory'], mkosi: 'include_dir', default: detected('mkosi.includedir', 'directory'), status: 'unsupported', neutral: null, doc: 'Directory bound to /usr/include in the build image (default: mkosi.includedir/)' }),
  InstallDirectory: pathSetting({ section, flags: ['--install-directory'], mkosi: 'install_dir', default: detected('mkosi.installdir', 'directory'), status: 'unsupported', neutral: null, doc: 'Persistent $DESTDIR of the build script (default: mkosi.installdir/)' }),
  Password: string<string | null>({
    section,
    flags: ['--password'],
    mkosi: 'password',
    default: defaultPassword,
    secret: true,
    doc: 'Root password; empty means no password (default: content of mkosi.rootpw)',
  }),
  PasswordIsHashed: bool({ section, flags: ['--password-is-hashed'], mkosi: 'password_is_hashed', default: false, doc: 'Password= is already a crypt(3) hash' }),
  Autologin: bool({ section, flags: ['--autologin'], mkosi: 'autologin', default: false, doc: 'Log root in automatically on the console' }),
  SkipFinalPhase: bool({ section, flags: ['--skip-final-phase'], mkosi: 'skip_final_phase', default: false, status: 'unsupported', doc: 'Stop after the build script' }),
  BuildScript: script({ section, flags: ['--build-script'], mkosi: 'build_script', default: detected('mkosi.build', 'file'), status: 'unsupported', neutral: null, doc: 'Build script run in a development image (default: mkosi.build)' }),
  PrepareScript: script({
    section,
    flags: ['--prepare-script'],
    mkosi: 'prepare_script',
    default: detected('mkosi.prepare'),
    doc: 'Script run in the image after packages are installed, with network (default: mkosi.prepare)',
  }),
  PostInstallationScript: script({
    section,
    flags: ['--postinst-script'],
    mkosi: 'postinst_script',
    default: detected('mkosi.postinst'),
    doc: 'Script run in the image with the argument "final" (default: mkosi.postinst)',
  }),
  FinalizeScript: script({
    section,
    flags: ['--finalize-script'],
    mkosi: 'finalize_script',
    default: detected('mkosi.finalize'),
    doc: 'Script run on the host with $BUILDROOT (default: mkosi.finalize)',
  }),
  SourceFileTransfer: enumeration<SourceFileTransfer, SourceFileTransfer | null>(SOURCE_FILE_TRANSFERS, {
    section,
    flags: ['--source-file-transfer'],
    mkosi: 'source_file_transfer',
    emptyIsDefault: true,
    default: (context) =>
      [context.directory, context.get('BuildSources') ?? context.directory].some((dir) => existsSync(path.join(dir, '.git')))
        ? 'copy-git-others'
        : 'copy-all',
    status: 'unsupported',
    doc: 'How the build script\'s sources enter the build image',
  }),
  SourceFileTransferFinal: enumeration<SourceFileTransfer, SourceFileTransfer | null>(SOURCE_FILE_TRANSFERS, {
    section,
    flags: ['--source-file-transfer-final'],
    mkosi: 'source_file_transfer_final',
    emptyIsDefault: true,
    default: null,
    status: 'unsupported',
    doc: 'How sources enter the final image',
  }),
  SourceResolveSymlinks: bool({ section, flags: ['--source-resolve-symlinks'], mkosi: 'source_resolve_symlinks', default: false, status: 'unsupported', doc: 'Follow symlinks when copying sources' }),
  SourceResolveSymlinksFinal: bool({ section, flags: ['--source-resolve-symlinks-final'], mkosi: 'source_resolve_symlinks_final', default: false, status: 'unsupported', doc: 'Follow symlinks when copying sources into the final image' }),
  WithNetwork: boolOr(['never'], {
    section,
    flags: ['--with-network'],
    mkosi: 'with_network',
    default: false,
    doc: 'Network access for the scripts; never: use cached packages only',
  }),
  NSpawnSettings: pathSetting({
    section,
    flags: ['--settings'],
    mkosi: 'nspawn_settings',
    default: detected('mkosi.nspawn'),
    doc: '.nspawn file copied beside the image (default: mkosi.nspawn)',
  }),
};
