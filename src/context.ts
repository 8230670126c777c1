/**
 * The one mutable state of a build: where the workspace, the image root and the staged outputs are,
 * what has been produced so far, and a cleanup stack that is unwound in reverse order whether the
 * build succeeds, fails or is interrupted.
 */
import type { Config } from './config/types.js';
import { debug } from './log.js';
import type { Reproducibility } from './reproducible.js';

/** A file written into the staging directory, waiting to be moved into the output directory. */
export interface Artifact {
  /** File name in the output directory. */
  readonly name: string;
  /** Where it is now (in the staging directory). */
  readonly path: string;
  /** SHA-256 in hex, computed while the file was written; absent for directories. */
  readonly sha256?: string;
  /** Whether SHA256SUMS lists it (the image and its sidecars; not the manifest, as in mkosi). */
  readonly checksummed: boolean;
  readonly isDirectory?: boolean;
  /**
   * Called by the commit step before the artifact replaces the previous output at `existing`, and
   * after it is in place at `final`. A read-only btrfs subvolume can be neither renamed nor moved
   * aside, so Format=subvolume makes the old one writable first and the new one read-only last.
   */
  readonly beforeReplace?: (existing: string) => Promise<void>;
  readonly afterCommit?: (final: string) => Promise<void>;
  /**
   * Called once the whole commit succeeded, with where the output this artifact replaced was moved
   * (inside the workspace, deleted with it unless this moves it elsewhere).
   */
  readonly afterReplace?: (previous: string) => Promise<void>;
}

/** A package recorded for the manifest. */
export interface InstalledPackage {
  readonly type: 'deb' | 'rpm' | 'pkg';
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** The source package it was built from (deb: source:Package, rpm: SOURCERPM, pkg: BASE). */
  readonly source?: string;
  /** Installed size in bytes, where the package database records it. */
  readonly size?: number;
}

/** ManifestFormat=changelog: a source package, its binary packages in the image, its changelog. */
export interface SourcePackage {
  readonly name: string;
  readonly packages: readonly InstalledPackage[];
  readonly changelog: string | undefined;
}

type Cleanup = () => Promise<void> | void;

/**
 * Undo actions, run last-registered first — except that locks are released after everything
 * else: whatever a build did under a lock (processes, mounts, files in the workspace) is undone
 * before another build can take it.
 */
export class CleanupStack {
  readonly #entries: { what: string; run: Cleanup; lock: boolean }[] = [];

  /** Registers an undo action. */
  push(what: string, run: Cleanup): void {
    this.#entries.push({ what, run, lock: false });
  }

  /** Registers the release of a lock, which unwinding runs after every other action. */
  pushLock(what: string, release: Cleanup): void {
    this.#entries.push({ what, run: release, lock: true });
  }

  /** Removes a registered action without running it (the resource was handed over). */
  forget(what: string): void {
    const index = this.#entries.findLastIndex((entry) => entry.what === what);
    if (index >= 0) this.#entries.splice(index, 1);
  }

  /** Runs a registered action now (a lock released once its work is done) and removes it. */
  async runNow(what: string): Promise<void> {
    const index = this.#entries.findLastIndex((entry) => entry.what === what);
    if (index < 0) return;
    const [entry] = this.#entries.splice(index, 1);
    await entry!.run();
  }

  /** Runs every action even if some fail; returns the errors of those that failed. */
  async unwind(): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (;;) {
      const index = this.#entries.findLastIndex((entry) => !entry.lock);
      const [entry] = this.#entries.splice(index >= 0 ? index : this.#entries.length - 1, 1);
      if (entry === undefined) return errors;
      try {
        debug(`cleanup: ${entry.what}`);
        await entry.run();
      } catch (error) {
        errors.push(error);
      }
    }
  }
}

/**
 * mkosi 14's two phases: with a build script, a development image ('build': Packages= plus
 * BuildPackages=, scripts called with "build") in which the script runs, then the image itself ('final').
 */
export type Phase = 'build' | 'final';

export interface BuildContext {
  readonly config: Config;
  readonly phase: Phase;
  /** The configuration directory (-C). */
  readonly directory: string;
  /** Private scratch directory of this build, removed at the end. */
  readonly workspace: string;
  /** The image being built. */
  readonly root: string;
  /** Outputs are written here, then renamed into the output directory. */
  readonly staging: string;
  /** Directory of the final outputs (the directory of Config.Output). */
  readonly outputDirectory: string;
  /** Package downloads of the package manager, kept between builds. */
  readonly packageCache: string;
  readonly cleanup: CleanupStack;
  readonly artifacts: Artifact[];
  /** Filled before package metadata is cleaned, for the manifest. */
  packages: InstalledPackage[];
  /** Filled with the packages for ManifestFormat=changelog (it needs the package database too). */
  sourcePackages?: SourcePackage[];
  /** How systemd-nspawn must be called on this host. */
  readonly nspawnFlags: readonly string[];
  /**
   * SOURCE_DATE_EPOCH and the seed (reproducible.ts): every writer takes its times and UUIDs from
   * here, never from the clock or a random source, when they are set.
   */
  readonly reproducibility: Reproducibility;
  /**
   * Where cached roots live when not in the Cache= directory: `kiln --all` shares one bootstrap
   * between images that would make the same root, through a cache of the run's own.
   */
  readonly rootCache?: string;
  /** Whether the root was restored from the incremental cache (skip bootstrap and packages). */
  reusedCachedRoot: boolean;
  readonly debug: readonly string[];
}

/** A progress title, marked when it belongs to the development image. */
export function phaseTitle(context: Pick<BuildContext, 'phase'>, title: string): string {
  return context.phase === 'build' ? `${title} (development image)` : title;
}
