import { existsSync } from 'node:fs';
import path from 'node:path';
import { producedFiles } from '../artifacts/names.js';
import { emptyBuildDirectories } from '../build-directories.js';
import { sparePath } from '../cache/spare.js';
import { checkRoot } from '../checks.js';
import { info } from '../log.js';
import { run } from '../run.js';
import type { Verb } from './types.js';

/** The directories `clean -f` (incremental cache, kept initrds) and `clean -ff` (also packages) remove, as mkosi 14. */
export function cacheDirectories(cache: string, force: number): string[] {
  const dirs: string[] = [];
  if (force >= 1) dirs.push(path.join(cache, 'roots'), path.join(cache, 'initrds'));
  if (force >= 2) dirs.push(path.join(cache, 'packages'));
  return dirs;
}

export const clean: Verb = {
  doc: "Remove the outputs (-f: also the incremental cache and the build script's directories, -ff: also the package cache; --all: of every image)",
  origin: 'mkosi',
  async run(invocation) {
    checkRoot('clean');
    const configs = invocation.args.all ? invocation.images().map((image) => image.loaded.config) : [invocation.config().config];
    // The spare is an old copy of the image (spare.ts): it goes with the image.
    const targets = [...new Set(configs.flatMap((config) => [...producedFiles(config), sparePath(config), ...cacheDirectories(config.Cache!, config.Force)]))];
    for (const target of targets) {
      if (!existsSync(target)) continue;
      await run(['rm', '-rf', '--one-file-system', target], { what: `Removing ${invocation.display(target)}` });
      info(`removed ${invocation.display(target)}`);
    }
    // mkosi 14: clean -f also empties BuildDirectory=, IncludeDirectory= and InstallDirectory=.
    for (const config of configs) {
      if (config.Force >= 1) for (const dir of await emptyBuildDirectories(config)) info(`emptied ${invocation.display(dir)}`);
    }
  },
};
