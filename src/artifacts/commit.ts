/**
 * The last step of a build: the staged artifacts are renamed into the output directory. Until then
 * the previous outputs are untouched, so a failed or interrupted build never leaves half an artifact
 * and never destroys a good one. Artifacts end up 0644 (mkosi 14 made them 0666) and, as mkosi does
 * unless NoChown=, owned by the user who ran sudo.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BuildContext } from '../context.js';
import { run } from '../run.js';
import { producedFiles } from './names.js';

/** Who should own the outputs: the user behind sudo, if any. */
function sudoOwner(env: NodeJS.ProcessEnv): { uid: number; gid: number } | undefined {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  return Number.isInteger(uid) && Number.isInteger(gid) && env.SUDO_UID && uid !== 0 ? { uid, gid } : undefined;
}

export async function commitArtifacts(context: BuildContext): Promise<string[]> {
  const outputDir = context.outputDirectory;
  const owner = context.config.NoChown ? undefined : sudoOwner(process.env);
  const committed: string[] = [];
  const names = new Set(context.artifacts.map((artifact) => artifact.name));
  // With --force, files of the previous build that this one does not make (an old SHA256SUMS) go too:
  // they would describe an image that is no longer there.
  const stale = producedFiles(context.config).filter((file) => !names.has(path.basename(file)));
  for (const file of stale) await fs.rm(file, { force: true });

  for (const artifact of context.artifacts) {
    const target = path.join(outputDir, artifact.name);
    if (!artifact.isDirectory) await fs.chmod(artifact.path, 0o644);
    if (owner) await fs.lchown(artifact.path, owner.uid, owner.gid);
    const previous = await fs.lstat(target).catch(() => undefined);
    if (previous?.isDirectory() && !artifact.isDirectory) throw new Error(`internal: ${target} is a directory`);
    if (previous?.isDirectory()) {
      // rename() cannot replace a non-empty directory: move the old one into the workspace first;
      // it is deleted with the workspace.
      await artifact.beforeReplace?.(target);
      await fs.rename(target, path.join(context.workspace, `previous-${artifact.name}`));
    }
    try {
      await fs.rename(artifact.path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyAcrossFileSystems(artifact.path, target);
    }
    await artifact.afterCommit?.(target);
    committed.push(target);
  }
  return committed;
}

/** For outputs staged on another file system than the output directory (WorkspaceDirectory= elsewhere). */
async function copyAcrossFileSystems(source: string, target: string): Promise<void> {
  await run(['cp', '-a', '--reflink=auto', source, target], { what: `Copying ${path.basename(source)} to ${path.dirname(target)}` });
}
