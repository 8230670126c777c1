/**
 * `kiln --all` without Incremental=: images that would bootstrap the same root — the same cache
 * key (distribution, release, mirrors, packages, skeleton trees, prepare script…), as the images of
 * one definition in several formats have — share one bootstrap. Each group gets a cache of roots of
 * the run's own, in its Cache= directory and removed when the run ends: the first image of a group
 * bootstraps and stores its root there, the others wait for it (the key's lock) and start from it
 * as Incremental=yes would, without leaving anything in Cache=. mkosi 14 bootstraps every image.
 * Like a build's workspace, the directory records its owner: one left by a run that was killed
 * (SIGKILL, a power cut) is removed by the next run that finds its owner gone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { cacheInputs, cacheKey } from '../cache/key.js';
import { run } from '../run.js';
import { packagesToInstall } from '../stages/install.js';
import { createScratchDirectory, removeAbandoned } from '../workspace.js';
import type { Image } from './images.js';

export interface SharedRoots {
  /** The run's root cache of each image that shares its root with another. */
  readonly of: ReadonlyMap<Image, string>;
  remove(): Promise<void>;
}

const RUN_PREFIX = '.all-run-';

export async function shareRoots(images: readonly Image[]): Promise<SharedRoots> {
  const groups = new Map<string, { cache: string; images: Image[] }>();
  for (const image of images) {
    const { config } = image.loaded;
    if (config.Incremental || config.Cache === null) continue;
    const key = await cacheKey(await cacheInputs(config, packagesToInstall({ config, phase: 'final' })));
    const id = `${config.Cache}\0${key}`;
    const group = groups.get(id) ?? { cache: config.Cache, images: [] };
    group.images.push(image);
    groups.set(id, group);
  }
  const of = new Map<Image, string>();
  const made: string[] = [];
  for (const group of groups.values()) {
    if (group.images.length < 2) continue;
    await fs.mkdir(group.cache, { recursive: true });
    await removeAbandoned(group.cache, RUN_PREFIX, 'the shared roots of a kiln --all run');
    const dir = await createScratchDirectory(group.cache, RUN_PREFIX);
    made.push(dir);
    for (const image of group.images) of.set(image, dir);
  }
  return {
    of,
    async remove() {
      for (const dir of made) await run(['rm', '-rf', '--one-file-system', dir], { what: "Removing the run's shared roots", uninterruptible: true });
    },
  };
}
