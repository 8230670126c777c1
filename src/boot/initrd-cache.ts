/**
 * Initrds kiln made, kept under <Cache>/initrds/<key>/ and used again when a later build would give
 * dracut the same input. dracut's generic initrd costs half a minute of CPU (about 40 s here, most of
 * it dracut's shell forking and copying), more than the whole rest of a disk build; so, like the
 * package cache, this keeps what only depends on what went in.
 *
 * At the point the initrd is made, the root is a function of the installed packages (with their
 * versions), the skeleton and extra trees, and what kiln's own stages wrote into /etc; dracut reads
 * /usr (packages) and /etc. The key is those: every installed package and version, the digests of
 * /etc and of the trees, the kernel versions, dracut's options and kiln's version. Where that is not
 * all there is, nothing is kept: a prepare script may change anything, and a host-only initrd
 * (HostonlyInitrd=yes) depends on the build host's hardware.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { digestJson, digestTree } from '../cache/key.js';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import { debug } from '../log.js';
import { getPackageManager } from '../package-managers/index.js';
import { run } from '../run.js';
import { resolveInRoot } from '../tree/safe-path.js';
import { KILN_VERSION } from '../version.js';
import type { Kernel } from './kernels.js';

/** How many initrd sets a cache directory keeps (least recently used go first). */
const KEEP = 4;

function directory(context: BuildContext): string {
  return path.join(context.config.Cache!, 'initrds');
}

/** The key of the initrds `kernels` would get now, or null when they must not be kept. */
export async function initrdKey(context: BuildContext, kernels: readonly Kernel[]): Promise<string | null> {
  const { config } = context;
  if (config.HostonlyInitrd || config.PrepareScript !== null) return null;
  const manager = getPackageManager(getDistribution(config.Distribution).packageManager);
  const packages = (await manager.listInstalled(context)).map((p) => `${p.name}=${p.version}:${p.architecture}`);
  return digestJson({
    kiln: KILN_VERSION,
    distribution: config.Distribution,
    architecture: config.Architecture,
    kernels: kernels.map((kernel) => kernel.version),
    packages,
    etc: await digestTree(await resolveInRoot(context.root, 'etc')),
    trees: await Promise.all([...config.SkeletonTrees, ...config.ExtraTrees].map(digestTree)),
  });
}

/** The cached initrd files of `key` (one per kernel version), or undefined. */
export async function findInitrds(context: BuildContext, key: string, kernels: readonly Kernel[]): Promise<Map<string, string> | undefined> {
  const dir = path.join(directory(context), key);
  const files = new Map(kernels.map((kernel) => [kernel.version, path.join(dir, kernel.version)]));
  for (const file of files.values()) {
    if (!(await fs.stat(file).catch(() => undefined))?.isFile()) return undefined;
  }
  await fs.utimes(dir, new Date(), new Date()).catch(() => undefined);
  return files;
}

/** Keeps the initrds just made (kernel version to file); a cache that cannot be written costs only the reuse. */
export async function saveInitrds(context: BuildContext, key: string, made: ReadonlyMap<string, string>): Promise<void> {
  const base = directory(context);
  const temporary = path.join(base, `.new-${key}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.mkdir(temporary, { recursive: true, mode: 0o700 });
    for (const [version, file] of made) await fs.copyFile(file, path.join(temporary, version));
    await fs.rename(temporary, path.join(base, key));
  } catch (error) {
    debug(`initrd cache: not kept: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await fs.rm(temporary, { recursive: true, force: true });
  }
  await evict(base);
}

async function evict(base: string): Promise<void> {
  const names = await fs.readdir(base).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.filter((name) => /^[0-9a-f]{16}$/.test(name)).map(async (name) => ({ name, used: (await fs.stat(path.join(base, name))).mtimeMs })),
  );
  entries.sort((a, b) => b.used - a.used);
  for (const { name } of entries.slice(KEEP)) {
    await run(['rm', '-rf', '--one-file-system', path.join(base, name)], { what: 'Evicting a cached initrd', uninterruptible: true });
  }
}
