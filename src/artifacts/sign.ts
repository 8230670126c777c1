/**
 * Sign=yes: SHA256SUMS.gpg, a detached binary gpg signature over SHA256SUMS — what systemd-pull
 * verifies with --verify=signature. Signing runs on the host over the staging directory, so no key
 * ever comes near the image. Whether gpg can sign at all (the key exists, needs no passphrase, has
 * not expired) is probed before the build starts by signing a few bytes, because a build that fails
 * only after minutes of work, at its very last step, is the one failure users cannot forgive.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { BuildContext } from '../context.js';
import { UserError } from '../errors.js';
import { info, step } from '../log.js';
import { run } from '../run.js';
import { outputNames } from './names.js';

/**
 * The keyring gpg uses: $GNUPGHOME, else the home directory of the user kiln runs as, read from
 * the password database and not from $HOME — under sudo $HOME may still be the caller's, and gpg
 * running as root would then fill the caller's ~/.gnupg with files owned by root.
 */
export function gnupgHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.GNUPGHOME || path.join(os.userInfo().homedir, '.gnupg');
}

/** Flags of every gpg call that must never stop to ask anything. */
const BATCH = ['--batch', '--no-tty', '--pinentry-mode', 'error'];

/**
 * `gpg --detach-sign` over `input` into `output`; binary even if gpg.conf says armor. Status lines
 * go to `statusFd` (1: stdout, 2: stderr when the signature itself goes to stdout).
 */
export function signArgv(key: string | null, input: string, output: string, statusFd: 1 | 2 = 1): string[] {
  return ['gpg', ...BATCH, '--status-fd', String(statusFd), '--no-armor', ...(key ? ['--local-user', key] : []), '--detach-sign', '--output', output, input];
}

/** A line of gpg's --status-fd output, split into its keyword and arguments. */
export interface StatusLine {
  readonly keyword: string;
  readonly args: readonly string[];
}

export function parseStatus(output: string): StatusLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('[GNUPG:] '))
    .map((line) => {
      const [keyword = '', ...args] = line.slice('[GNUPG:] '.length).trim().split(' ');
      return { keyword, args };
    });
}

/** gpg's INV_SGNR reason codes (doc/DETAILS) worth their own words. */
const INVALID_SIGNER: Readonly<Record<string, string>> = {
  '2': 'is ambiguous (several keys match)',
  '3': 'cannot make signatures',
  '4': 'was revoked',
  '5': 'has expired',
  '13': 'is disabled',
};

/** libgpg-error codes in `FAILURE sign <code>` (the low 16 bits). */
const GPG_ERR_BAD_PASSPHRASE = 11;
const GPG_ERR_NO_SECKEY = 17;
const GPG_ERR_CANCELED = 99;
const GPG_ERR_NO_PIN_ENTRY = 85;

/**
 * Turns a failed signature's status lines into the one sentence the user needs. Pure, so that
 * every case is tested without keys.
 */
export function describeSigningFailure(status: readonly StatusLine[], stderr: string, key: string | null, home: string): UserError {
  const which = key ? `the gpg key "${key}"` : 'the default gpg key';
  const list = `list the keys with: GNUPGHOME=${home} gpg --list-secret-keys`;
  const invalid = status.find((line) => line.keyword === 'INV_SGNR');
  if (invalid) {
    if (invalid.args[0] === '1' || invalid.args[0] === '9') {
      // Without Key=, a default-key line in gpg.conf can name a key that is not there.
      const wanted = key ? `Key=${key}` : `"${invalid.args.slice(1).join(' ')}" (default-key in gpg.conf)`;
      return new UserError(`Sign=yes: no gpg secret key matches ${wanted} in ${home}`, { hint: `${list}; or create one with: kiln genkey` });
    }
    const reason = INVALID_SIGNER[invalid.args[0] ?? ''] ?? `was rejected (gpg reason ${invalid.args[0]})`;
    return new UserError(`Sign=yes: ${which} ${reason}`, { hint: list });
  }
  const failure = status.find((line) => line.keyword === 'FAILURE');
  const code = failure ? Number(failure.args[1] ?? 0) & 0xffff : 0;
  const signer = status.find((line) => line.keyword === 'KEY_CONSIDERED')?.args[0];
  const named = signer ? `the gpg key ${signer}` : which;
  if (code === GPG_ERR_NO_PIN_ENTRY || code === GPG_ERR_BAD_PASSPHRASE || code === GPG_ERR_CANCELED) {
    return new UserError(`Sign=yes: ${named} is protected by a passphrase, and kiln signs without asking for one`, {
      hint: 'sign with a key that has no passphrase (kiln genkey makes one), or unlock this one in gpg-agent before the build',
    });
  }
  if (code === GPG_ERR_NO_SECKEY || !signer) {
    return new UserError(key ? `Sign=yes: no gpg secret key matches Key=${key} in ${home}` : `Sign=yes: there is no gpg secret key in ${home}`, {
      hint: `create one with: kiln genkey (or set GNUPGHOME, or Key=); ${list}`,
    });
  }
  const said = stderr.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('gpg: ')).at(-1);
  return new UserError(`Sign=yes: gpg cannot sign with ${named}${said ? ` (${said})` : ''}`, { hint: list });
}

/**
 * Before the build: can gpg sign with the configured key, right now, without asking? Returns the
 * problem, or undefined. gpg itself is checked with the other host tools.
 */
export async function checkSigning(config: Config): Promise<UserError | undefined> {
  if (!config.Sign) return undefined;
  const home = gnupgHome();
  if (!existsSync(home)) {
    return new UserError(`Sign=yes: there is no gpg keyring at ${home}`, { hint: 'create a signing key with: kiln genkey (or set GNUPGHOME)' });
  }
  // The probe signature goes to stdout and is thrown away. Never `--output /dev/null`: when signing
  // fails, gpg deletes its output file, and as root that is the host's /dev/null.
  const argv = signArgv(config.Key, '-', '-', 2);
  const result = await run(argv, { input: 'kiln signing probe\n', stdio: 'pipe', read: true, env: { GNUPGHOME: home }, okCodes: [1, 2], what: 'Probing the gpg signing key' });
  if (result.exitCode === 0) return undefined;
  return describeSigningFailure(parseStatus(result.stderr), result.stderr, config.Key, home);
}

/** The fingerprint gpg reports having signed with. */
export function signerOf(status: readonly StatusLine[]): string | undefined {
  return status.find((line) => line.keyword === 'SIG_CREATED')?.args[5];
}

/** Signs the staged SHA256SUMS into SHA256SUMS.gpg (binary, detached), as systemd-pull expects. */
export async function stageSignature(context: BuildContext): Promise<void> {
  const { config } = context;
  if (!config.Sign) return;
  const names = outputNames(config);
  const sums = context.artifacts.find((artifact) => artifact.name === names.checksum);
  // Format=directory without sidecars has no SHA256SUMS, so nothing to sign (as in mkosi 14).
  if (!sums) return;
  const target = path.join(context.staging, names.signature);
  const home = gnupgHome();
  await step('Signing SHA256SUMS', async () => {
    const result = await run(signArgv(config.Key, sums.path, target), { stdio: 'pipe', read: true, env: { GNUPGHOME: home }, okCodes: [1, 2], what: 'Signing SHA256SUMS' });
    // The key passed the check before the build, but it can have been locked or removed since.
    if (result.exitCode !== 0) throw describeSigningFailure(parseStatus(result.stdout), result.stderr, config.Key, home);
    const signer = signerOf(parseStatus(result.stdout));
    if (!config.Key && signer) info(`  signed with gpg's default key ${signer}`);
  });
  context.artifacts.push({ name: names.signature, path: target, checksummed: false });
}
