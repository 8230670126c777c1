/**
 * PAM changes that depend on how the distribution ships PAM (its `pam` policy). openSUSE keeps its
 * PAM files in a vendor directory (/usr/lib/pam.d, /usr/etc/pam.d before 2022), which PAM reads only
 * for files /etc/pam.d lacks: a file kiln changes must first be copied to /etc/pam.d whole, or the
 * changed copy would hide everything else in it. As mkosi 14's install_opensuse():
 * - an empty Password= needs `nullok` on pam_unix.so in common-auth, or root cannot log in
 *   without a password (Debian, Fedora and Arch ship nullok already);
 * - Autologin= copies login, which the autologin lines are then put in front of.
 * Unlike mkosi 14, the line after a pam_unix.so line stays a line of its own, comments are left
 * alone and nullok is not added twice.
 */
import fs from 'node:fs/promises';
import type { BuildContext } from '../context.js';
import { getDistribution } from '../distributions/index.js';
import type { PamPolicy } from '../distributions/types.js';
import { existsInRoot, readFileInRoot, resolveInRoot, writeFileInRoot } from '../tree/safe-path.js';

const PAM_DIR = 'etc/pam.d';

/** `nullok` on every pam_unix.so line of a PAM file that does not have it. */
export function withNullok(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const bare = line.trim();
      if (bare.startsWith('#') || !/\bpam_unix\.so\b/.test(bare) || /(^|\s)nullok(\s|$)/.test(bare)) return line;
      return `${line.trimEnd()} nullok`;
    })
    .join('\n');
}

/**
 * Puts the vendor copy of /etc/pam.d/`name` there when it is missing (content and mode); returns
 * whether /etc/pam.d/`name` exists afterwards.
 */
export async function copyVendorPamFile(root: string, name: string, policy: PamPolicy): Promise<boolean> {
  if (await existsInRoot(root, `${PAM_DIR}/${name}`)) return true;
  for (const directory of policy.vendorDirectories) {
    const content = await readFileInRoot(root, `${directory}/${name}`);
    if (content === undefined) continue;
    const { mode } = await fs.stat(await resolveInRoot(root, `${directory}/${name}`));
    await writeFileInRoot(root, `${PAM_DIR}/${name}`, content, mode & 0o7777);
    return true;
  }
  return false;
}

/** Lets root log in without a password (Password= empty): nullok for pam_unix.so. */
export async function allowEmptyPassword(root: string, policy: PamPolicy): Promise<void> {
  const file = `${PAM_DIR}/${policy.nullokFile}`;
  if (!(await copyVendorPamFile(root, policy.nullokFile, policy))) return;
  const text = (await readFileInRoot(root, file))!;
  const patched = withNullok(text);
  if (patched === text) return;
  const { mode } = await fs.stat(await resolveInRoot(root, file));
  await writeFileInRoot(root, file, patched, mode & 0o7777);
}

/** The PAM changes of this build, for the distributions that need any. */
export async function adjustPam(context: BuildContext): Promise<void> {
  const policy = getDistribution(context.config.Distribution).pam;
  if (!policy) return;
  if (context.config.Password === '') await allowEmptyPassword(context.root, policy);
  // Copied now, changed by the autologin stage.
  if (context.config.Autologin) await copyVendorPamFile(context.root, 'login', policy);
}
