/**
 * The dnf configuration kiln generates for a build: a dnf.conf and one .repo file, written with the
 * `ini` package. Which repositories exist and where RPM keeps its database is the distribution's
 * policy (distributions/fedora.ts); this file only knows dnf's file formats.
 */
import ini from 'ini';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';

export interface RpmRepository {
  /** The repository id Repositories= refers to. */
  readonly id: string;
  readonly baseurl: string;
}

/** What a distribution installed with dnf must say about itself. */
export interface DnfPolicy {
  dnfRepositories(config: Config): readonly RpmRepository[];
  /** dnf's $releasever. */
  releasever(config: Config): string;
  /** Where the image's own rpm looks for its database (an image path). */
  rpmDatabase(config: Config): string;
  /** Host files that may hold the distribution's signing keys, in order of preference. */
  gpgKeyCandidates(config: Config): readonly string[];
}

export interface RepoFileOptions {
  readonly repositories: readonly RpmRepository[];
  /** file:// URL of the signing key; undefined when signatures are not checked. */
  readonly gpgKey: string | undefined;
}

/** A value ini would quote or escape (dnf reads neither) cannot go into a .repo file. */
function checkValue(what: string, value: string): string {
  if (/[=;#\r\n"']/.test(value) || value !== value.trim() || value.startsWith('[')) {
    throw new UserError(`${what} "${value}" cannot be written into a dnf .repo file`, {
      hint: 'URLs for dnf must not contain = ; # quotes or line breaks',
    });
  }
  return value;
}

export function renderRepoFile(options: RepoFileOptions): string {
  const sections: Record<string, Record<string, string | number>> = {};
  for (const repository of options.repositories) {
    if (!/^[A-Za-z0-9_-]+$/.test(repository.id)) throw new UserError(`"${repository.id}" is not a valid dnf repository id`);
    sections[repository.id] = {
      name: repository.id,
      baseurl: checkValue(`${repository.id} URL`, repository.baseurl),
      enabled: 1,
      gpgcheck: options.gpgKey ? 1 : 0,
      ...(options.gpgKey ? { gpgkey: checkValue('signing key', options.gpgKey) } : {}),
    };
  }
  return ini.encode(sections);
}

export function renderDnfConf(options: { readonly gpgCheck: boolean }): string {
  // reposdir and varsdir are given on the command line: dnf would otherwise look for them inside
  // the installroot first.
  return ini.encode({
    main: {
      gpgcheck: options.gpgCheck ? 1 : 0,
      clean_requirements_on_remove: 1,
      best: 1,
      skip_if_unavailable: 0,
    },
  });
}

/**
 * Repositories= names repository ids to enable (and disables the others), as in mkosi 14; an id
 * kiln did not define would make dnf fail later with a less helpful message.
 */
export function repositoryFlags(wanted: readonly string[], defined: readonly RpmRepository[]): string[] {
  if (wanted.length === 0) return [];
  const ids = defined.map((repository) => repository.id);
  const unknown = wanted.filter((id) => !ids.includes(id));
  if (unknown.length > 0) {
    throw new UserError(`Repositories=${unknown.join(',')}: no such repository`, { hint: `the repositories of this build are ${ids.join(', ')}` });
  }
  return ['--disablerepo=*', ...wanted.map((id) => `--enablerepo=${id}`)];
}

/** mkosi 14's order: plain names first, then file paths, then rich dependencies "(a if b)". */
export function sortPackages(packages: readonly string[]): string[] {
  const rank = (name: string): number => (name.startsWith('(') ? 2 : name.startsWith('/') ? 1 : 0);
  return [...packages].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}
