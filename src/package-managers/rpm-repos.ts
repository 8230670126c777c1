/**
 * The repositories of an RPM build, in the one place that decides them for dnf and zypper alike:
 * what the distribution's policy lists (distributions/*.ts), written as one .repo file (both read
 * the same format) into the directory the package manager is pointed at. Repositories the user
 * brings (RepositoryDirectory=) are counted in writeRepositories() too; UseHostRepositories= (dnf)
 * skips it.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import ini from 'ini';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';

/** One repository: a baseurl, or a mirror list or metalink the package manager resolves to one. */
export type RpmRepository = { readonly id: string; readonly gpgKeyCandidates?: readonly string[] } & (
  | { readonly baseurl: string }
  | { readonly mirrorlist: string }
  | { readonly metalink: string }
);

/** What a distribution installed from RPM repositories must say about itself. */
export interface RpmPolicy {
  /** Its repositories for this configuration: Mirror= or LocalMirror= layouts, else its mirror lists. */
  rpmRepositories(config: Config): readonly RpmRepository[];
  /** dnf's $releasever. */
  releasever(config: Config): string;
  /** Where the image's own rpm looks for its database (an image path). */
  rpmDatabase(config: Config): string;
  /** Host files that may hold the distribution's signing keys, in order of preference. */
  gpgKeyCandidates(config: Config): readonly string[];
  /** dnf variables ($stream for CentOS Stream), written into the vars directory. */
  dnfVariables?(config: Config): Readonly<Record<string, string>>;
  /**
   * The database backend the image's own rpm must find, where it cannot write the sqlite database
   * the host's rpm makes (CentOS, Rocky, Alma up to 8: Berkeley DB); undefined when it can.
   */
  imageDatabaseBackend?(config: Config): 'bdb' | undefined;
}

/** The location line of a repository and its value. */
export function locationOf(repository: RpmRepository): [key: 'baseurl' | 'mirrorlist' | 'metalink', url: string] {
  if ('baseurl' in repository) return ['baseurl', repository.baseurl];
  if ('mirrorlist' in repository) return ['mirrorlist', repository.mirrorlist];
  return ['metalink', repository.metalink];
}

/** A value ini would quote or escape (dnf and zypper read neither) cannot go into a .repo file. */
function checkValue(what: string, value: string): string {
  if (/[;#\r\n"']/.test(value) || value !== value.trim() || value.startsWith('[')) {
    throw new UserError(`${what} "${value}" cannot be written into a .repo file`, {
      hint: 'repository URLs must not contain ; # quotes or line breaks',
    });
  }
  return value;
}

export interface RenderedRepository {
  readonly repository: RpmRepository;
  readonly gpgCheck: boolean;
  readonly enabled?: boolean;
  /** file:// URL of its signing key; undefined for none, or the repository's own (zypper imports it). */
  readonly gpgKey?: string;
}

/**
 * The .repo file. Written line by line, not with ini: ini quotes any value holding "=", which every
 * mirror-list URL does, and neither dnf nor zypper unquotes.
 */
export function renderRepoFile(repositories: readonly RenderedRepository[], extra: Readonly<Record<string, string | number>> = {}): string {
  const sections = repositories.map(({ repository, gpgCheck, gpgKey, enabled }) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(repository.id)) throw new UserError(`"${repository.id}" is not a valid repository id`);
    const [key, url] = locationOf(repository);
    const lines: Record<string, string | number> = {
      name: repository.id,
      [key]: checkValue(`${repository.id} URL`, url),
      enabled: enabled === false ? 0 : 1,
      gpgcheck: gpgCheck ? 1 : 0,
      ...(gpgKey ? { gpgkey: checkValue('signing key', gpgKey) } : {}),
      ...extra,
    };
    return [`[${repository.id}]`, ...Object.entries(lines).map(([name, value]) => `${name}=${value}`)].join('\n');
  });
  return `${sections.join('\n\n')}\n`;
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
 * The signing key of a repository on the host, or an error naming where kiln looked. No candidates:
 * the repository's own key, which zypper imports from it (as mkosi 14 lets it).
 */
function findGpgKey(config: Config, candidates: readonly string[]): string | undefined {
  if (!config.RepositoryKeyCheck || candidates.length === 0) return undefined;
  const key = candidates.find((file) => existsSync(file));
  if (!key) {
    throw new UserError(`RepositoryKeyCheck=yes needs the ${config.Distribution} signing key, which this host does not have (looked for ${candidates[0]})`, {
      hint: 'put the key there, or set RepositoryKeyCheck=no for an unsigned local repository',
    });
  }
  return `file://${key}`;
}

/** The repository ids the .repo files of a directory define (RepositoryDirectory=), as dnf and zypper read them. */
export async function repositoryIdsIn(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.repo')).sort();
  const ids: string[] = [];
  for (const name of names) {
    const sections = ini.parse(await fs.readFile(path.join(dir, name), 'utf8'));
    ids.push(...Object.keys(sections).filter((key) => typeof sections[key] === 'object' && key !== 'main'));
  }
  return ids;
}

/**
 * Writes the build's repository definitions into `reposDir` (created): the distribution's, as
 * kiln.repo; RepositoryDirectory='s *.repo files are read from where they are (dnf: a second
 * reposdir) or copied beside it (`copyRepositoryDirectory`: zypper reads one directory). Returns
 * the ids of every repository of the build. Throws when there is none, or a signing key is missing.
 */
export async function writeRepositories(
  config: Config,
  policy: RpmPolicy,
  reposDir: string,
  options: {
    readonly hint: string;
    readonly extra?: Readonly<Record<string, string | number>>;
    /** Repository ids to enable, the others written disabled (Repositories=); empty: all. */
    readonly enabled?: readonly string[];
    readonly copyRepositoryDirectory?: boolean;
  },
): Promise<readonly string[]> {
  const repositories = policy.rpmRepositories(config);
  const extraIds = config.RepositoryDirectory ? await repositoryIdsIn(config.RepositoryDirectory) : [];
  if (repositories.length === 0 && extraIds.length === 0) throw new UserError(`no repository to install ${config.Distribution} from`, { hint: options.hint });
  const ids = [...repositories.map((repository) => repository.id), ...extraIds];
  const wanted = options.enabled ?? [];
  checkRepositoryIds(wanted, ids);
  const rendered = repositories.map((repository) => ({
    repository,
    enabled: wanted.length === 0 || wanted.includes(repository.id),
    gpgCheck: config.RepositoryKeyCheck,
    gpgKey: findGpgKey(config, repository.gpgKeyCandidates ?? policy.gpgKeyCandidates(config)),
  }));
  await fs.mkdir(reposDir, { recursive: true });
  if (rendered.length > 0) await fs.writeFile(path.join(reposDir, 'kiln.repo'), renderRepoFile(rendered, options.extra));
  if (options.copyRepositoryDirectory && config.RepositoryDirectory) {
    for (const name of (await fs.readdir(config.RepositoryDirectory)).filter((entry) => entry.endsWith('.repo')).sort()) {
      await fs.copyFile(path.join(config.RepositoryDirectory, name), path.join(reposDir, `reposdir-${name}`));
    }
  }
  return ids;
}

/**
 * Repositories= names repository ids to enable (and disables the others), as in mkosi 14; an id
 * none of the build's repository files defines would make the package manager fail later with a
 * less helpful message. `ids` is undefined where kiln cannot know them (UseHostRepositories=).
 */
export function checkRepositoryIds(wanted: readonly string[], ids: readonly string[] | undefined): void {
  if (ids === undefined) return;
  const unknown = wanted.filter((id) => !ids.includes(id));
  if (unknown.length > 0) {
    throw new UserError(`Repositories=${unknown.join(',')}: no such repository`, { hint: `the repositories of this build are ${ids.join(', ')}` });
  }
}

export function repositoryFlags(wanted: readonly string[], ids: readonly string[] | undefined): string[] {
  if (wanted.length === 0) return [];
  checkRepositoryIds(wanted, ids);
  return ['--disablerepo=*', ...wanted.map((id) => `--enablerepo=${id}`)];
}

/** mkosi 14's order: plain names first, then file paths, then rich dependencies "(a if b)". */
export function sortPackages(packages: readonly string[]): string[] {
  const rank = (name: string): number => (name.startsWith('(') ? 2 : name.startsWith('/') ? 1 : 0);
  return [...packages].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** `rpm -qa` in this format; the epoch only where a package has one, nothing cut off. */
export const RPM_QUERY_FORMAT = '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{SIZE}\\n';

/**
 * A small file of the first repository, fetched before the build to fail fast with its URL: the
 * repository index, or the mirror list itself.
 */
export function probeRepositories(config: Config, repositories: readonly RpmRepository[]): { url: string; setting: 'Mirror' | 'LocalMirror' } | undefined {
  const first = repositories[0];
  if (!first || (config.Mirror === null && config.LocalMirror === null)) return undefined;
  const [key, url] = locationOf(first);
  const concrete = url.replaceAll('$basearch', config.Architecture).replace(/\/+$/, '');
  return { url: key === 'baseurl' ? `${concrete}/repodata/repomd.xml` : concrete, setting: config.LocalMirror ? 'LocalMirror' : 'Mirror' };
}

/** Joins a mirror and a path under it, with one slash between. */
export function under(mirror: string, rest: string): string {
  return `${mirror.replace(/\/+$/, '')}/${rest}`;
}
