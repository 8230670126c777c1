/**
 * The incremental cache key: an xxhash of everything that shapes the root up to the end of the
 * prepare script — distribution, release, architecture, mirrors, repositories, the package list
 * (with BuildPackages= for the development image), the skeleton trees' content, the prepare script,
 * its argument ("build" or "final") and what it sees, kiln's version. Anything else
 * (extra trees, postinst, hostname, password, output format) is applied after the cached root, so
 * changing it never costs a bootstrap. mkosi 14 had no key at all: its cache never invalidated.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import xxhash from 'xxhash-wasm';
import type { Config } from '../config/types.js';
import { initrdInputs } from '../boot/initrd.js';
import type { Phase } from '../context.js';
import { walkTree } from '../tree/walk.js';
import { KILN_VERSION } from '../version.js';

type Hasher = ReturnType<Awaited<ReturnType<typeof xxhash>>['create64']>;
let api: Awaited<ReturnType<typeof xxhash>> | undefined;

async function hasher(): Promise<Hasher> {
  api ??= await xxhash();
  return api.create64(0n);
}

function hex(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

async function hashFile(file: string | Buffer, into: Hasher): Promise<void> {
  for await (const chunk of createReadStream(file)) into.update(chunk as Buffer);
}

const NUL = Buffer.from([0]);

/** One record of the digest: fields separated (and ended) by NUL, which no name or number holds. */
function record(...fields: (string | Buffer)[]): Buffer {
  return Buffer.concat(fields.flatMap((field) => [typeof field === 'string' ? Buffer.from(field) : field, NUL]));
}

/**
 * Content digest of a tree or archive: names (as bytes), types, permission bits, link targets and
 * file contents — not owners or times, which the copy into the image does not keep either.
 */
export async function digestTree(tree: string): Promise<string> {
  const digest = await hasher();
  const stat = await fs.lstat(tree);
  if (!stat.isDirectory()) {
    digest.update(`archive\0`);
    await hashFile(tree, digest);
    return hex(digest.digest());
  }
  for await (const entry of walkTree(tree)) {
    if (entry.depth === 0) continue;
    const { stat: info, relative: name } = entry;
    const mode = (Number(info.mode) & 0o7777).toString(8);
    if (info.isDirectory()) digest.update(record('d', name, mode));
    else if (info.isSymbolicLink()) digest.update(record('l', name, await fs.readlink(entry.path, { encoding: 'buffer' })));
    else if (info.isFile()) {
      digest.update(record('f', name, mode, String(info.size)));
      await hashFile(entry.path, digest);
    } else digest.update(record('o', name, mode));
  }
  return hex(digest.digest());
}

/** The inputs of the cached root, as one canonical object (also stored beside each entry). */
export interface CacheInputs {
  readonly kiln: string;
  readonly distribution: string;
  readonly release: string;
  readonly architecture: string;
  readonly mirror: string | null;
  readonly localMirror: string | null;
  readonly repositories: readonly string[];
  /** The content of RepositoryDirectory=, and whether the host's repositories were used. */
  readonly repositoryDirectory: string | null;
  readonly useHostRepositories: boolean;
  readonly repositoryKeyCheck: boolean;
  readonly bootstrapper: string | null;
  readonly withDocs: boolean;
  /** Sorted: the same set of packages gives the same root. */
  readonly packages: readonly string[];
  readonly skeletonTrees: readonly string[];
  readonly prepareScript: string | null;
  /** The prepare script's argument: "build" in the development image, "final" in the image. */
  readonly prepareArgument: Phase | null;
  /** What the prepare script sees. */
  readonly prepareEnvironment: Readonly<Record<string, string>> | null;
  readonly prepareNetwork: boolean | 'never' | null;
  /** What dracut is told, when the initrd is cached with the root (CacheInitrd=yes); else null. */
  readonly initrd: ReturnType<typeof initrdInputs>;
  /** SOURCE_DATE_EPOCH reaches the bootstrap (user accounts' password dates): only present when set. */
  readonly sourceDateEpoch?: number;
}

/**
 * Without a prepare script the phase shows only in the package list and the initrd: a development
 * image without BuildPackages= is the image's own root, and shares its cache entry — unless the image
 * caches its initrd (CacheInitrd=yes), which the development image never gets: its root is then the
 * one without the initrd, from which the image's is made (RootCache.closest()).
 */
export async function cacheInputs(config: Config, packages: readonly string[], phase: Phase = 'final'): Promise<CacheInputs> {
  const prepare = config.PrepareScript;
  return {
    kiln: KILN_VERSION,
    distribution: config.Distribution,
    release: config.Release,
    architecture: config.Architecture,
    mirror: config.Mirror,
    localMirror: config.LocalMirror,
    repositories: [...config.Repositories],
    repositoryDirectory: config.RepositoryDirectory ? await digestTree(config.RepositoryDirectory) : null,
    useHostRepositories: config.UseHostRepositories,
    repositoryKeyCheck: config.RepositoryKeyCheck,
    bootstrapper: config.Bootstrapper,
    withDocs: config.WithDocs,
    packages: [...new Set(packages)].sort(),
    skeletonTrees: await Promise.all(config.SkeletonTrees.map(digestTree)),
    prepareScript: prepare ? await digestTree(prepare) : null,
    prepareArgument: prepare ? phase : null,
    prepareEnvironment: prepare ? config.Environment : null,
    prepareNetwork: prepare ? config.WithNetwork : null,
    initrd: phase === 'final' ? initrdInputs(config) : null,
    ...(config.SourceDateEpoch !== null ? { sourceDateEpoch: config.SourceDateEpoch } : {}),
  };
}

/** Stable JSON: object keys sorted, so equal inputs always give the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function cacheKey(inputs: CacheInputs): Promise<string> {
  return digestJson(inputs);
}

/** The xxhash of a value's canonical JSON, in hex: a cache key for anything. */
export async function digestJson(value: unknown): Promise<string> {
  const digest = await hasher();
  digest.update(canonicalJson(value));
  return hex(digest.digest());
}

/**
 * The inputs of the root as it stands after the packages, before the prepare script (none when
 * there is no prepare script): cached on its own, so that editing mkosi.prepare, or the other
 * phase of a build script, starts from it instead of bootstrapping again (incremental.ts). It is
 * exactly the root of the same configuration without a prepare script, and shares that one's key
 * (unless CacheInitrd=yes: the initrd cached with a root is made after the prepare script, so this
 * root has none).
 */
export function withoutPrepare(inputs: CacheInputs): CacheInputs | undefined {
  if (inputs.prepareScript === null) return undefined;
  return { ...inputs, prepareScript: null, prepareArgument: null, prepareEnvironment: null, prepareNetwork: null, initrd: null };
}

/** The same inputs with another package list: what a cached root must match to be extended. */
export function sameExceptPackages(a: CacheInputs, b: CacheInputs): boolean {
  return canonicalJson({ ...a, packages: [] }) === canonicalJson({ ...b, packages: [] });
}

/**
 * Whether `base` can be made into the root `wanted` describes by installing the packages it lacks
 * (and making the initrd, which an extended root always gets again when it caches one): the same
 * inputs but for the packages, or a root without a cached initrd where one is wanted.
 */
export function extendsTo(base: CacheInputs, wanted: CacheInputs): boolean {
  if (!base.packages.every((name) => wanted.packages.includes(name))) return false;
  return sameExceptPackages(base, wanted) || (base.initrd === null && sameExceptPackages(base, { ...wanted, initrd: null }));
}
