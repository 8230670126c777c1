/**
 * The host directories of a build script, as mkosi 14 keeps them: BuildDirectory= ($BUILDDIR, with
 * its <distribution>~<release> subdirectory) persists across builds, with or without --incremental,
 * so make and meson rebuild only what changed; InstallDirectory= keeps $DESTDIR on the host, else
 * $DESTDIR is a fresh directory of each build; IncludeDirectory= receives the development image's
 * /usr/include. Only -ff (and `clean -f`) empties them, as in mkosi 14.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sudoOwner } from './artifacts/commit.js';
import type { Config } from './config/types.js';
import type { BuildContext } from './context.js';
import { run } from './run.js';

/** Where the build script's $DESTDIR is on the host. */
export function destinationDirectory(context: Pick<BuildContext, 'config' | 'workspace'>): string {
  return context.config.InstallDirectory ?? path.join(context.workspace, 'dest');
}

/** The directories -ff empties (their content, not the directories themselves). */
export function buildDirectories(config: Config): string[] {
  return [config.BuildDirectory, config.IncludeDirectory, config.InstallDirectory].filter((dir): dir is string => dir !== null);
}

export async function emptyBuildDirectories(config: Config): Promise<string[]> {
  const emptied: string[] = [];
  for (const dir of buildDirectories(config)) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    if (names.length === 0) continue;
    for (const name of names) {
      await run(['rm', '-rf', '--one-file-system', path.join(dir, name)], { what: `Emptying ${dir}`, uninterruptible: true });
    }
    emptied.push(dir);
  }
  return emptied;
}

/** Creates BuildDirectory= (and InstallDirectory=) if needed, owned like mkosi 14 by the user behind sudo. */
export async function makeBuildDirectories(config: Config): Promise<void> {
  const owner = config.NoChown ? undefined : sudoOwner(process.env);
  for (const dir of [config.BuildDirectory, config.InstallDirectory]) {
    if (dir === null) continue;
    const created = await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    if (created === undefined || !owner) continue;
    // Every directory made here (mkosi.builddir/ and its debian~bookworm/), not those above.
    for (let made = dir; made.length >= created.length; made = path.dirname(made)) await fs.chown(made, owner.uid, owner.gid);
  }
}
