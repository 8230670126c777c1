/**
 * `kiln genkey` makes the Secure Boot key and certificate, as mkosi 14's genkey does
 * (genkey-secure-boot.ts). `kiln genkey USER-ID` — an argument mkosi 14's genkey does not take — makes
 * a gpg signing key for Sign=yes (SHA256SUMS.gpg) instead, for people who have none.
 *
 * The gpg key has NO passphrase — kiln signs unattended, in batch mode — so the keyring itself must be
 * protected (it is 0700 and owned by the user). It is an ed25519 key that never expires, in
 * $GNUPGHOME or the ~/.gnupg of the user kiln runs as (root under sudo, who also runs the builds).
 * It refuses to make a second key where one would be confused with the first: another key with the
 * same user ID, or, without a user ID, any key at all (Sign=yes without Key= would then sign with
 * whichever gpg lists first).
 */
import fs from 'node:fs/promises';
import { gnupgHome, parseStatus } from '../artifacts/sign.js';
import { UserError } from '../errors.js';
import { info } from '../log.js';
import { run } from '../run.js';
import { makeSecureBootKey } from './genkey-secure-boot.js';
import type { Verb } from './types.js';

export const DEFAULT_USER_ID = 'kiln image signing key';

export interface SecretKey {
  readonly fingerprint: string;
  readonly userIds: readonly string[];
}

/** Secret keys from `gpg --with-colons --list-secret-keys` (doc/DETAILS). Pure. */
export function parseSecretKeys(output: string): SecretKey[] {
  const keys: { fingerprint: string; userIds: string[] }[] = [];
  let current: { fingerprint: string; userIds: string[] } | undefined;
  let wantFingerprint = false;
  for (const line of output.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'sec') {
      current = { fingerprint: '', userIds: [] };
      keys.push(current);
      wantFingerprint = true;
    } else if (fields[0] === 'ssb') {
      wantFingerprint = false;
    } else if (fields[0] === 'fpr' && current && wantFingerprint) {
      current.fingerprint = fields[9] ?? '';
      wantFingerprint = false;
    } else if (fields[0] === 'uid' && current) {
      // Colons and backslashes in user IDs are escaped as \x3a and \x5c.
      current.userIds.push((fields[9] ?? '').replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
    }
  }
  return keys;
}

/** Why making a key with this user ID would confuse, or undefined. Pure. */
export function duplicateProblem(keys: readonly SecretKey[], userId: string, home: string): UserError | undefined {
  const same = keys.find((key) => key.userIds.includes(userId));
  if (same) {
    return new UserError(`a gpg key for "${userId}" already exists in ${home}: ${same.fingerprint}`, {
      hint: `sign with it (Sign=yes, Key=${same.fingerprint}), or give another user ID: kiln genkey 'NAME <E-MAIL>'`,
    });
  }
  return undefined;
}

export const genkey: Verb = {
  doc: 'Create the Secure Boot key and certificate (mkosi.secure-boot.key, .crt); genkey USER-ID: a gpg signing key for Sign= instead',
  origin: 'mkosi',
  takesArguments: true,
  async run(invocation) {
    const args = invocation.args.commandLine;
    if (args.length === 0) {
      await makeSecureBootKey(invocation.config().config, invocation.display);
      return 0;
    }
    if (args.length > 1) throw new UserError('kiln genkey takes one user ID', { hint: "quote it: kiln genkey 'Image Builder <images@…>'" });
    const userId = args[0]!.trim();
    if (userId === '') throw new UserError('kiln genkey: the gpg user ID is empty', { hint: `name the key, such as: kiln genkey '${DEFAULT_USER_ID} <images@…>'` });
    const home = gnupgHome();
    const env = { GNUPGHOME: home };
    // gpg creates ~/.gnupg by itself, but not a $GNUPGHOME that does not exist yet.
    await fs.mkdir(home, { recursive: true, mode: 0o700 });

    const listed = await run(['gpg', '--batch', '--no-tty', '--with-colons', '--list-secret-keys'], { stdio: 'pipe', read: true, env, okCodes: [2], what: 'Listing gpg keys' });
    const problem = duplicateProblem(parseSecretKeys(listed.stdout), userId, home);
    if (problem) throw problem;

    const created = await run(
      ['gpg', '--batch', '--no-tty', '--status-fd', '1', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-generate-key', userId, 'ed25519', 'sign', 'never'],
      { stdio: 'pipe', read: true, env, what: 'Creating the gpg key' },
    );
    const fingerprint = parseStatus(created.stdout).find((line) => line.keyword === 'KEY_CREATED')?.args[1];
    if (!fingerprint) throw new Error('internal: gpg created a key but reported no fingerprint');

    process.stdout.write(`${fingerprint}\n`);
    info(`created the gpg signing key ${fingerprint} "${userId}" in ${home}`);
    info('  it has no passphrase, so that builds can sign unattended: keep that keyring private');
    info(`  sign with it: [Validation] Sign=yes and Key=${fingerprint} in mkosi.default`);
    info(`  let machinectl pull check it: gpg --export ${fingerprint} > /etc/systemd/import-pubring.gpg`);
    info('    (binary, not --armor; that file replaces systemd\'s vendor keyring, /usr/lib/systemd/import-pubring.gpg)');
    if (process.getuid?.() !== 0 && !process.env.GNUPGHOME) {
      info('  note: sudo kiln build signs with root\'s keyring; run genkey with sudo too, or set GNUPGHOME for both');
    }
    return 0;
  },
};
