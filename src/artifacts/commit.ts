/**
 * The last step of a build: the staged artifacts are renamed into the output directory. Until then
 * the previous outputs are untouched, so a failed or interrupted build never leaves half an artifact
 * and never destroys a good one. Artifacts end up 0644 (mkosi 14 made them 0666; secrets 0600) and,
 * as mkosi does unless NoChown=, owned by the user who ran sudo.
 *
 * The commit is all-or-nothing for readers: the old SHA256SUMS.gpg and SHA256SUMS go first, then
 * the image and its sidecars replace the old ones, and the new SHA256SUMS and SHA256SUMS.gpg come
 * last. Every old file is moved aside rather than deleted; if a step fails, what was placed is taken
 * out and the old files are put back — the old checksums and signature only when everything else
 * was, so that a signature never stands beside an image it does not describe.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Artifact, BuildContext } from '../context.js';
import { warn } from '../log.js';
import { run } from '../run.js';
import { createScratchDirectory } from '../workspace.js';
import { outputNames, producedFiles, producedOutputs } from './names.js';

/** Who should own the outputs: the user behind sudo, if any. */
export function sudoOwner(env: NodeJS.ProcessEnv): { uid: number; gid: number } | undefined {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  return Number.isInteger(uid) && Number.isInteger(gid) && env.SUDO_UID && uid !== 0 ? { uid, gid } : undefined;
}

/** A directory on the output directory's file system for the old files: the workspace when it is there. */
async function asideDirectory(context: BuildContext): Promise<string> {
  const [workspace, output] = await Promise.all([fs.stat(context.workspace), fs.stat(context.outputDirectory)]);
  if (workspace.dev === output.dev) return context.workspace;
  // WorkspaceDirectory= elsewhere: a directory of its own, removed with the workspace (or, if kiln
  // is killed, by the next build, like an abandoned workspace).
  const aside = await createScratchDirectory(context.outputDirectory);
  context.cleanup.push(`remove ${aside}`, () => run(['rm', '-rf', '--one-file-system', aside], { what: `Removing ${aside}`, uninterruptible: true }).then(() => undefined));
  return aside;
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

/** What the commit changed so far, to undo it in reverse. */
type Step = { readonly kind: 'aside'; readonly from: string; readonly to: string; readonly guards: boolean } | { readonly kind: 'placed'; readonly at: string };

class Commit {
  readonly #steps: Step[] = [];

  constructor(
    private readonly outputDir: string,
    private readonly aside: string,
  ) {}

  /** Moves an old output out of the way; `guards`: an old checksum or signature file. */
  async moveAside(name: string, guards = false, before?: (existing: string) => Promise<void>): Promise<void> {
    const from = path.join(this.outputDir, name);
    if (!(await exists(from))) return;
    await before?.(from);
    const to = path.join(this.aside, `previous-${name}`);
    await fs.rename(from, to);
    this.#steps.push({ kind: 'aside', from, to, guards });
  }

  /** Where the previous output of this name was moved aside, if there was one. */
  movedAside(name: string): string | undefined {
    const from = path.join(this.outputDir, name);
    for (const step of this.#steps) if (step.kind === 'aside' && step.from === from) return step.to;
    return undefined;
  }

  async place(artifact: Artifact): Promise<string> {
    const target = path.join(this.outputDir, artifact.name);
    const previous = await fs.lstat(target).catch(() => undefined);
    if (previous?.isDirectory() && !artifact.isDirectory) throw new Error(`internal: ${target} is a directory`);
    // rename() cannot replace a non-empty directory, and the old file must stay restorable.
    await this.moveAside(artifact.name, false, previous?.isDirectory() ? artifact.beforeReplace : undefined);
    this.#steps.push({ kind: 'placed', at: target });
    try {
      await fs.rename(artifact.path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyAcrossFileSystems(artifact.path, target);
    }
    await artifact.afterCommit?.(target);
    return target;
  }

  /**
   * Takes out what was placed and puts the old files back. The old checksums and signature are put
   * back only if everything else could be: otherwise they would vouch for files they do not describe.
   */
  async rollBack(): Promise<void> {
    let complete = true;
    for (const step of this.#steps.reverse()) {
      try {
        if (step.kind === 'placed') await fs.rm(step.at, { recursive: true, force: true });
        else if (!step.guards || complete) await fs.rename(step.to, step.from);
      } catch (error) {
        complete = false;
        warn(`could not undo the commit of ${step.kind === 'placed' ? step.at : step.from}: ${(error as Error).message}`);
      }
    }
    if (!complete) warn('the output directory holds a partial set of outputs, without SHA256SUMS or its signature');
  }
}

export async function commitArtifacts(context: BuildContext): Promise<string[]> {
  const outputDir = context.outputDirectory;
  const names = outputNames(context.config);
  const owner = context.config.NoChown ? undefined : sudoOwner(process.env);
  const known = new Map(producedOutputs(context.config).map((output) => [output.name, output]));
  // names.ts is the one list of output names: a file missing there would escape --force, kiln
  // clean and kiln serve, so the build stops before it lands.
  for (const artifact of context.artifacts) {
    if (!known.has(artifact.name)) throw new Error(`internal: the build wrote ${artifact.name}, which producedOutputs() in src/artifacts/names.ts does not list`);
  }
  // Whatever can fail without touching the output directory, first.
  for (const artifact of context.artifacts) {
    if (!artifact.isDirectory) await fs.chmod(artifact.path, known.get(artifact.name)?.secret ? 0o600 : 0o644);
    if (owner) await fs.lchown(artifact.path, owner.uid, owner.gid);
  }
  const guards = [names.checksum, names.signature];
  const produced = new Set(context.artifacts.map((artifact) => artifact.name));
  const body = context.artifacts.filter((artifact) => !guards.includes(artifact.name));
  const last = guards.flatMap((name) => context.artifacts.filter((artifact) => artifact.name === name));
  // With --force, files of the previous build that this one does not make (an old .nspawn) go too:
  // they would describe an image that is no longer there.
  const stale = producedFiles(context.config)
    .map((file) => path.basename(file))
    .filter((name) => !produced.has(name) && !guards.includes(name));

  const commit = new Commit(outputDir, await asideDirectory(context));
  const committed: string[] = [];
  try {
    // The signature before the checksums it signs: from here on no reader finds an old pair.
    for (const name of [...guards].reverse()) await commit.moveAside(name, true);
    for (const name of stale) await commit.moveAside(name);
    for (const artifact of [...body, ...last]) committed.push(await commit.place(artifact));
  } catch (error) {
    await commit.rollBack();
    throw error;
  }
  for (const artifact of context.artifacts) {
    const previous = commit.movedAside(artifact.name);
    if (previous && artifact.afterReplace) await artifact.afterReplace(previous);
  }
  return committed;
}

/** For outputs staged on another file system than the output directory (WorkspaceDirectory= elsewhere). */
async function copyAcrossFileSystems(source: string, target: string): Promise<void> {
  await run(['cp', '-a', '--reflink=auto', source, target], { what: `Copying ${path.basename(source)} to ${path.dirname(target)}` });
}
