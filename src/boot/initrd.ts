/**
 * The initrd of every kernel in a bootable image, made by the image's own dracut in a throwaway
 * container, after the extra trees (mkosi 14 runs kernel-install at the same point). dracut writes it
 * uncompressed into a directory of the workspace, and kiln compresses it on the host with zstd on
 * every core: dracut's own gzip -9 took about twice as long as all the rest of dracut's work (measured
 * here: 45 s of 80 s CPU time for Debian's 130 MB generic initrd; zstd -3 -T0 took 1 s). Every
 * kernel kiln builds for reads zstd initrds (Linux 5.9 and later).
 *
 * With Incremental=yes and CacheInitrd=yes the initrd is made before the root is cached instead, so
 * later builds reuse it (it then reflects neither the extra trees nor the scripts, as with mkosi 14).
 * Either way, an initrd dracut made before from the same input is taken from initrd-cache.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runInContainer } from '../container.js';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { hasEsp } from '../disk/layout.js';
import { getDistribution } from '../distributions/index.js';
import { debug, info } from '../log.js';
import { run } from '../run.js';
import type { Stage } from '../stages/types.js';
import { mkdirInRoot, resolveInRoot, targetInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { DRACUT_CONF_DIR, dracutConfiguration, rootFileSystemModule, type DracutOptions } from './dracut.js';
import { findInitrds, initrdKey, saveInitrds } from './initrd-cache.js';
import { requireKernels, type Kernel } from './kernels.js';

/** Where the workspace directory for dracut's output appears inside the container. */
const INSIDE = '/run/kiln-initrd';

/** The initrd belongs to the cached root (CacheInitrd= only means something for incremental builds). */
export function initrdIsCached(config: Pick<Config, 'Incremental' | 'CacheInitrd'>): boolean {
  return config.Incremental && config.CacheInitrd;
}

/** What shapes the initrd besides the packages, for the incremental cache key when it is cached. */
export function initrdInputs(
  config: Config,
): { hostonly: boolean; filesystem: string | null; esp: boolean; verity: boolean; dropins: Readonly<Record<string, string>> } | null {
  if (!config.Bootable || !initrdIsCached(config)) return null;
  const filesystem = config.HostonlyInitrd ? rootFileSystemModule(config.Format) : null;
  // Only a host-only initrd differs with Verity= (dracut.ts).
  const verity = config.HostonlyInitrd && config.Verity !== false;
  return { hostonly: config.HostonlyInitrd, filesystem, esp: hasEsp(config), verity, dropins: distributionDropins(config) };
}

function distributionDropins(config: Config): Readonly<Record<string, string>> {
  return getDistribution(config.Distribution).dracutDropins?.(config) ?? {};
}

function dracutOptions(config: Config, systemConfDropins: readonly string[]): DracutOptions {
  return { hostonly: config.HostonlyInitrd, format: config.Format, esp: hasEsp(config), verity: config.Verity !== false, systemConfDropins };
}

async function systemConfDropins(root: string): Promise<string[]> {
  const dir = await resolveInRoot(root, 'etc/systemd/system.conf.d');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.sort().map((name) => `/etc/systemd/system.conf.d/${name}`);
}

/** kiln's dracut drop-ins, and the distribution's own where its dracut configuration would undo kiln's (Mageia). */
export function dracutFiles(config: Config, systemConfDropins: readonly string[]): Map<string, string> {
  const files = dracutConfiguration(dracutOptions(config, systemConfDropins));
  for (const [name, content] of Object.entries(distributionDropins(config))) files.set(name, content);
  return files;
}

async function writeDracutConfiguration(context: BuildContext): Promise<void> {
  const { root, config } = context;
  await mkdirInRoot(root, DRACUT_CONF_DIR);
  for (const [name, content] of dracutFiles(config, await systemConfDropins(root))) await writeFileInRoot(root, `${DRACUT_CONF_DIR}/${name}`, content);
}

/** dracut in the image makes the initrd of one kernel, uncompressed, into `scratch`. */
async function runDracut(context: BuildContext, kernel: Kernel, scratch: string): Promise<string> {
  await runInContainer(context, ['dracut', '--quiet', '--force', '--no-compress', '--reproducible', `${INSIDE}/${kernel.version}`, kernel.version], {
    network: false,
    binds: [{ source: scratch, target: INSIDE }],
    what: `Making the initrd of ${kernel.version} with dracut`,
    hint: 'dracut\'s last output is shown above; --debug=run shows all of it',
  });
  return path.join(scratch, kernel.version);
}

/** A file for `imagePath` in the image, replacing whatever is at the name (a symlink included) instead of writing through it. */
async function freshTarget(root: string, imagePath: string): Promise<string> {
  const target = await targetInRoot(root, imagePath);
  await fs.rm(target, { force: true, recursive: true });
  return target;
}

export async function makeInitrds(context: BuildContext): Promise<void> {
  const { root, config } = context;
  await writeDracutConfiguration(context);
  const kernels = await requireKernels(root, config);
  const key = await initrdKey(context, kernels);
  const cached = key === null ? undefined : await findInitrds(context, key, kernels);
  if (cached) {
    try {
      for (const kernel of kernels) {
        const target = await freshTarget(root, kernel.initrd);
        await fs.copyFile(cached.get(kernel.version)!, target);
        await fs.chmod(target, 0o600);
      }
      info(`initrd: the one dracut made for the same packages, /etc and trees before (${key})`);
      return;
    } catch (error) {
      // Evicted by another build meanwhile: make it after all.
      debug(`initrd cache: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const scratch = await fs.mkdtemp(path.join(context.workspace, 'initrd-'));
  try {
    const made = new Map<string, string>();
    for (const kernel of kernels) {
      const raw = await runDracut(context, kernel, scratch);
      const target = await freshTarget(root, kernel.initrd);
      await run(['zstd', '-q', '-3', '-T0', '--no-progress', raw, '-o', target], {
        what: `Compressing the initrd of ${kernel.version}`,
        searchPaths: config.ExtraSearchPaths,
      });
      // dracut makes initrds private: one may hold keys.
      await fs.chmod(target, 0o600);
      await fs.rm(raw);
      made.set(kernel.version, target);
    }
    if (key !== null) await saveInitrds(context, key, made);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

export const initrdStage: Stage = {
  title: 'Making the initrd',
  enabled: (context) => context.config.Bootable && !initrdIsCached(context.config),
  run: makeInitrds,
};

/** Runs before the root is cached: at the end of the base stages, and after a cached root is extended. */
export const cachedInitrdStage: Stage = {
  title: 'Making the initrd (CacheInitrd=yes: it is cached with the root)',
  enabled: (context) => context.config.Bootable && initrdIsCached(context.config),
  run: makeInitrds,
};
