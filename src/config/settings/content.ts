/** [Content] settings (mkosi ≤ 10 called the section [Packages]). */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bool,
  boolOr,
  enumeration,
  integer,
  list,
  pathList,
  pathSetting,
  script,
  string,
  type ResolveContext,
} from '../setting.js';
import { SOURCE_FILE_TRANSFERS, type SourceFileTransfer } from '../types.js';
import { inheritedEpoch, parseEpoch } from '../../reproducible.js';
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
  BuildPackages: list({
    section,
    flags: ['--build-package'],
    mkosi: 'build_packages',
    delimiter: ',',
    doc: 'Packages added to the development image in which the build script runs',
  }),
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
    doc: 'Let the build script run its tests ($WITH_TESTS=1); -T: $WITH_TESTS=0',
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
  SourceDateEpoch: integer<number | null>({
    section,
    flags: ['--source-date-epoch'],
    mkosi: '',
    metavar: 'SECONDS',
    parse: parseEpoch,
    // A malformed inherited value is reported by validate.ts, with where it came from.
    default: (context) => {
      const inherited = inheritedEpoch(context.get('Environment'), context.env);
      if (!inherited) return null;
      try {
        return parseEpoch(inherited.raw);
      } catch {
        return null;
      }
    },
    doc: 'Reproducible build: clamp file times to these seconds since 1970 and take no time from the clock (default: SOURCE_DATE_EPOCH from Environment=, then from the environment; modern mkosi\'s SourceDateEpoch=)',
  }),
  BuildSources: pathSetting({
    section,
    flags: ['--build-sources'],
    mkosi: 'build_sources',
    default: (context) => context.directory,
    doc: 'Source tree of the build script, at /root/src (default: the configuration directory)',
  }),
  BuildDirectory: pathSetting({
    section,
    flags: ['--build-directory', '--build-dir'],
    mkosi: 'build_dir',
    ...withDistributionSubdir('mkosi.builddir'),
    doc: 'Build directory kept between builds, the build script\'s $BUILDDIR, with a <distribution>~<release> subdirectory (default: mkosi.builddir/)',
  }),
  IncludeDirectory: pathSetting({
    section,
    flags: ['--include-directory'],
    mkosi: 'include_dir',
    default: detected('mkosi.includedir', 'directory'),
    doc: 'Receives the development image\'s /usr/include, and is /usr/include for the build script (default: mkosi.includedir/)',
  }),
  InstallDirectory: pathSetting({
    section,
    flags: ['--install-directory'],
    mkosi: 'install_dir',
    default: detected('mkosi.installdir', 'directory'),
    doc: 'The build script\'s $DESTDIR, kept on the host (default: mkosi.installdir/, else a fresh one per build)',
  }),
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
  SkipFinalPhase: bool({ section, flags: ['--skip-final-phase'], mkosi: 'skip_final_phase', default: false, doc: 'Stop after the build script: no final image (kiln build only)' }),
  BuildScript: script({
    section,
    flags: ['--build-script'],
    mkosi: 'build_script',
    default: detected('mkosi.build', 'file'),
    doc: 'Script run in a development image (Packages= plus BuildPackages=); what it puts in $DESTDIR goes into the image (default: mkosi.build)',
  }),
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
    doc: 'How BuildSources= reach /root/src of the development image (default: copy-git-others in a git repository, else copy-all)',
  }),
  SourceFileTransferFinal: enumeration<SourceFileTransfer, SourceFileTransfer | null>(SOURCE_FILE_TRANSFERS, {
    section,
    flags: ['--source-file-transfer-final'],
    mkosi: 'source_file_transfer_final',
    emptyIsDefault: true,
    default: null,
    doc: 'Copy BuildSources= into /root/src of the final image too; mount: bind them there for shell and boot',
  }),
  SourceResolveSymlinks: bool({
    section,
    flags: ['--source-resolve-symlinks'],
    mkosi: 'source_resolve_symlinks',
    default: false,
    doc: 'With SourceFileTransfer=copy-all, copy what symlinks in the sources point to instead of the links',
  }),
  SourceResolveSymlinksFinal: bool({
    section,
    flags: ['--source-resolve-symlinks-final'],
    mkosi: 'source_resolve_symlinks_final',
    default: false,
    doc: 'The same for SourceFileTransferFinal=copy-all',
  }),
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
