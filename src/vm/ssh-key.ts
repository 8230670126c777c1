/**
 * The key `kiln ssh` logs in with. SshKey= names one of the user's (its public half, KEY.pub, goes
 * into the image); SshAgent= uses the keys of an ssh agent; otherwise kiln makes an ed25519 key on the
 * first Ssh=yes build and keeps it in the cache directory, private to root — never in the output
 * directory (which `kiln serve` hands out), never in the image, never in a log. mkosi 14 wrote its
 * key beside the image as id_rsa.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { run } from '../run.js';

/** Where kiln keeps the key it made for this cache directory. */
export function generatedKeyPath(config: Pick<Config, 'Cache'>): string {
  return path.join(config.Cache!, 'ssh', 'id_ed25519');
}

/** The private key file `kiln ssh` passes to ssh, or null when an agent holds the keys. */
export function loginKey(config: Pick<Config, 'Cache' | 'SshKey' | 'SshAgent'>): string | null {
  if (config.SshAgent !== null) return null;
  return config.SshKey ?? generatedKeyPath(config);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Makes kiln's key unless it exists; returns its private key's path. */
export async function ensureGeneratedKey(config: Pick<Config, 'Cache' | 'ExtraSearchPaths'>): Promise<string> {
  const key = generatedKeyPath(config);
  if (await exists(key)) return key;
  await fs.mkdir(path.dirname(key), { recursive: true, mode: 0o700 });
  // Made aside and renamed, so that two builds never see half a key pair.
  const temporary = path.join(path.dirname(key), `.new-${process.pid}`);
  await fs.rm(temporary, { force: true });
  await fs.rm(`${temporary}.pub`, { force: true });
  await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kiln', '-f', temporary], {
    what: 'Making the ssh key for kiln ssh',
    searchPaths: config.ExtraSearchPaths,
  });
  await fs.rename(`${temporary}.pub`, `${key}.pub`);
  await fs.rename(temporary, key);
  return key;
}

/** The public keys that go into root's authorized_keys, as text. */
export async function authorizedKeys(config: Config): Promise<string> {
  if (config.SshAgent !== null) {
    const result = await run(['ssh-add', '-L'], {
      env: { SSH_AUTH_SOCK: config.SshAgent },
      read: true,
      what: 'Asking the ssh agent for its keys (SshAgent=)',
      hint: 'check that the agent runs and holds a key (ssh-add -l)',
      searchPaths: config.ExtraSearchPaths,
    });
    return `${result.stdout.trim()}\n`;
  }
  const key = config.SshKey ?? (await ensureGeneratedKey(config));
  try {
    return `${(await fs.readFile(`${key}.pub`, 'utf8')).trim()}\n`;
  } catch {
    throw new UserError(`SshKey=${key} has no public half ${key}.pub for the image`, { hint: `make it with: ssh-keygen -y -f ${key} > ${key}.pub` });
  }
}

/** Problems with Ssh= settings that can be seen before building. */
export async function sshKeyProblems(config: Config): Promise<string[]> {
  if (!config.Ssh) return [];
  if (config.SshAgent !== null) {
    const stat = await fs.stat(config.SshAgent).catch(() => undefined);
    return stat?.isSocket() ? [] : [`SshAgent=${config.SshAgent} is not an ssh agent's socket`];
  }
  if (config.SshKey !== null && !(await exists(`${config.SshKey}.pub`))) {
    return [`SshKey=${config.SshKey} has no public half ${config.SshKey}.pub for the image`];
  }
  return [];
}
