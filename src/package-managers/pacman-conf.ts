/**
 * The pacman.conf kiln generates for a build. Which repositories exist is the distribution's policy
 * (distributions/arch.ts); this file only knows pacman's file format and options.
 */
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';

export interface PacmanRepository {
  readonly name: string;
  readonly server: string;
  /** Overrides the global SigLevel for this repository. */
  readonly sigLevel?: string;
}

/** What a distribution installed with pacman must say about itself. */
export interface PacmanPolicy {
  /**
   * The distribution's repositories, in pacman's order of preference (RepositoryDirectory= and
   * Repositories= come after them).
   */
  pacmanRepositories(config: Config): readonly PacmanRepository[];
  /** The content of /etc/pacman.d/mirrorlist in the image, or null to leave it alone. */
  mirrorList(config: Config): string | null;
}

export interface PacmanConfOptions {
  readonly root: string;
  /**
   * Where pacman finds downloaded packages, in order; it downloads into the first. A build downloads
   * into a directory of its own and finds the shared package cache second (see cache/package-cache.ts).
   */
  readonly cacheDirectories: readonly string[];
  /** The keyring pacman checks signatures against. */
  readonly gpgDirectory: string;
  readonly architecture: string;
  readonly keyCheck: boolean;
  readonly withDocs: boolean;
  readonly repositories: readonly PacmanRepository[];
  /**
   * RepositoryDirectory=: a directory of files with more [repository] sections, included after the
   * distribution's repositories (mkosi 14's `Include = DIR/*`).
   */
  readonly includeDirectory?: string | null;
  /** Repositories= of Arch (NAME::URL), last, as mkosi 14 writes them. */
  readonly extraRepositories?: readonly PacmanRepository[];
}

/** Required for packages; the Arch databases themselves are not always signed. */
export const PACMAN_SIG_LEVEL = 'Required DatabaseOptional';

/** Where Arch packages put documentation; WithDocs=no keeps it out of the image. */
const DOCUMENTATION = ['usr/share/doc/*', 'usr/share/gtk-doc/*', 'usr/share/help/*', 'usr/share/info/*', 'usr/share/man/*'];

export function renderPacmanConf(options: PacmanConfOptions): string {
  const root = options.root.replace(/\/+$/, '');
  const lines = [
    '[options]',
    `RootDir = ${root}/`,
    `DBPath = ${root}/var/lib/pacman/`,
    // Outside the image, so downloads survive the build and the image does not keep them.
    ...options.cacheDirectories.map((dir) => `CacheDir = ${dir.replace(/\/+$/, '')}/`),
    `HookDir = ${root}/etc/pacman.d/hooks/`,
    `GPGDir = ${options.gpgDirectory.replace(/\/+$/, '')}/`,
    'LogFile = /dev/null',
    'HoldPkg = pacman glibc',
    `Architecture = ${options.architecture}`,
    `SigLevel = ${options.keyCheck ? PACMAN_SIG_LEVEL : 'Never'}`,
    'ParallelDownloads = 5',
  ];
  if (!options.withDocs) lines.push(`NoExtract = ${DOCUMENTATION.join(' ')}`);
  const section = (repository: PacmanRepository): void => {
    checkRepository(repository);
    lines.push('', `[${repository.name}]`);
    if (repository.sigLevel) lines.push(`SigLevel = ${repository.sigLevel}`);
    lines.push(`Server = ${repository.server}`);
  };
  options.repositories.forEach(section);
  if (options.includeDirectory) {
    if (/[\r\n]/.test(options.includeDirectory)) throw new UserError('RepositoryDirectory= contains a line break');
    lines.push('', `Include = ${options.includeDirectory.replace(/\/+$/, '')}/*`);
  }
  (options.extraRepositories ?? []).forEach(section);
  return `${lines.join('\n')}\n`;
}

/** `Repositories=name::url` entries of an Arch configuration. */
export function parseArchRepositories(entries: readonly string[], keyCheck: boolean): PacmanRepository[] {
  return entries.map((entry) => {
    const separator = entry.indexOf('::');
    const name = separator > 0 ? entry.slice(0, separator) : '';
    const server = separator > 0 ? entry.slice(separator + 2) : '';
    if (!name || !server) {
      throw new UserError(`Repositories=${entry}: Arch repositories are given as NAME::URL`, {
        hint: 'for example Repositories=mine::file:///srv/repo',
      });
    }
    // pacman's own default for repositories without keys of their own, as mkosi 14 sets it.
    return { name, server, sigLevel: keyCheck ? 'Optional TrustedOnly' : 'Never' };
  });
}

/** pacman.conf has no quoting: a line break or a bracket would change the file's meaning. */
function checkRepository(repository: PacmanRepository): void {
  if (!/^[A-Za-z0-9_.+-]+$/.test(repository.name)) {
    throw new UserError(`"${repository.name}" cannot be a pacman repository name`, { hint: 'use letters, digits and . _ + -' });
  }
  if (/[\r\n]/.test(repository.server)) throw new UserError(`the URL of repository ${repository.name} contains a line break`);
}
