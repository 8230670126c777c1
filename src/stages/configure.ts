/**
 * mkosi 14's configuration tweaks (hostname, locale, root password, pam_securetty, machine ID) —
 * each applied only where the files it touches exist, so a minimal base without /etc/shadow or
 * /etc/pam.d/login builds instead of crashing as it does with mkosi 14.
 */
import fs from 'node:fs/promises';
import type { BuildContext } from '../context.js';
import { warn } from '../log.js';
import { existsInRoot, readFileInRoot, removeInRoot, resolveInRoot, symlinkInRoot, writeFileInRoot } from '../tree/safe-path.js';
import { sha512Crypt } from '../util/sha512-crypt.js';
import { adjustPam } from './pam.js';
import type { Stage } from './types.js';

/** Replaces field `index` (0-based) of the root entry in a passwd-style file. */
export function setRootField(text: string, index: number, value: string): string | undefined {
  let found = false;
  const lines = text.split('\n').map((line) => {
    if (!line.startsWith('root:')) return line;
    found = true;
    const fields = line.split(':');
    fields[index] = value;
    return fields.join(':');
  });
  return found ? lines.join('\n') : undefined;
}

async function patchRootEntry(root: string, file: string, index: number, value: string): Promise<boolean> {
  const text = await readFileInRoot(root, file);
  const patched = text === undefined ? undefined : setRootField(text, index, value);
  if (patched === undefined) return false;
  const mode = (await fs.stat(await resolveInRoot(root, file)).catch(() => undefined))?.mode ?? 0o640;
  await writeFileInRoot(root, file, patched, mode & 0o7777);
  return true;
}

async function configureRootPassword(context: BuildContext): Promise<void> {
  const { Password: password, PasswordIsHashed: hashed } = context.config;
  if (password === null) return;
  if (password === '') {
    // mkosi 14: an empty password deletes root's password, so root logs in without one.
    if (!(await patchRootEntry(context.root, 'etc/passwd', 1, ''))) warn('Password= is empty, but the image has no root entry in /etc/passwd');
    return;
  }
  const hash = hashed ? password : sha512Crypt(password);
  if (!(await patchRootEntry(context.root, 'etc/shadow', 1, hash))) {
    warn('Password= is set, but the image has no /etc/shadow with a root entry; the password was not applied');
  }
}

async function configureHostname(context: BuildContext): Promise<void> {
  // No Hostname= means no /etc/hostname, so systemd's own hostname logic applies (mkosi 14).
  await removeInRoot(context.root, 'etc/hostname');
  if (context.config.Hostname) await writeFileInRoot(context.root, 'etc/hostname', `${context.config.Hostname}\n`);
}

async function configureLocale(context: BuildContext): Promise<void> {
  if (!(await existsInRoot(context.root, 'etc'))) return;
  await writeFileInRoot(context.root, 'etc/locale.conf', 'LANG=C.UTF-8\n');
  if (await existsInRoot(context.root, 'etc/default')) {
    // Debian reads /etc/default/locale; point it at locale.conf as mkosi 14 does.
    await symlinkInRoot(context.root, 'etc/default/locale', '../locale.conf');
  }
}

/** Debian enables pam_securetty for console logins, which stops root logging in on a container console. */
async function disablePamSecuretty(context: BuildContext): Promise<void> {
  const text = await readFileInRoot(context.root, 'etc/pam.d/login');
  if (text === undefined || !text.includes('pam_securetty.so')) return;
  const patched = text
    .split('\n')
    .filter((line) => !line.includes('pam_securetty.so'))
    .join('\n');
  await writeFileInRoot(context.root, 'etc/pam.d/login', patched);
}

export const configureImage: Stage = {
  title: 'Configuring the image',
  enabled: () => true,
  async run(context) {
    await configureLocale(context);
    await configureHostname(context);
    await configureRootPassword(context);
    // Before pam_securetty goes: login may come from PAM's vendor directory.
    await adjustPam(context);
    await disablePamSecuretty(context);
  },
};

/**
 * The image leaves with `uninitialized` in /etc/machine-id, so the first boot generates and commits a
 * machine ID (mkosi 14); MachineID= keeps a fixed one instead. The random seed is not shipped.
 */
export const resetMachineId: Stage = {
  title: 'Resetting the machine ID',
  enabled: () => true,
  async run(context) {
    if (!(await existsInRoot(context.root, 'etc'))) return;
    const fixed = context.config.MachineID;
    await writeFileInRoot(context.root, 'etc/machine-id', `${fixed ? fixed.replace(/[{}-]/g, '').toLowerCase() : 'uninitialized'}\n`, 0o444);
    if (await existsInRoot(context.root, 'var/lib/dbus/machine-id')) {
      await symlinkInRoot(context.root, 'var/lib/dbus/machine-id', '../../../etc/machine-id');
    }
    await removeInRoot(context.root, 'var/lib/systemd/random-seed');
  },
};
