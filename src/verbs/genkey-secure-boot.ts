/**
 * `kiln genkey` as mkosi 14 has it: a self-signed RSA 2048 certificate and its private key for
 * SecureBoot= (and SignExpectedPCR=, Verity=signed), made with openssl at SecureBootKey= and
 * SecureBootCertificate= — mkosi.secure-boot.key and .crt in the configuration directory unless set —
 * valid for SecureBootValidDays= days, with SecureBootCommonName= as its CN ("%u" is the user, as
 * mkosi 14 expands it: $SUDO_USER, else $USER). Existing files are kept unless --force.
 *
 * openssl writes the key file itself (mode 0600) and the key has no passphrase, so that builds sign
 * unattended: the key never passes through kiln, and both files are made under temporary names and
 * renamed into place together, so that a failure leaves no half pair.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { UserError } from '../errors.js';
import { info } from '../log.js';
import { run } from '../run.js';

const KEY_BITS = 2048;

/** SecureBootCommonName= with %u expanded, as mkosi 14's expand_specifier(). */
export function expandCommonName(template: string, env: NodeJS.ProcessEnv = process.env): string {
  const user = env.SUDO_USER || env.USER || 'root';
  return template.replaceAll('%u', user);
}

/** openssl's -subj for one CN: "/", "+" and "\" in the name are escaped, as openssl reads them. */
export function subjectOf(commonName: string): string {
  return `/CN=${commonName.replace(/[\\/+]/g, (c) => `\\${c}`)}/`;
}

/** SecureBootValidDays= as a whole number of days, or the one-line problem. */
export function validDays(value: string): number {
  const days = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(days) || days < 1) {
    throw new UserError(`SecureBootValidDays=${value} is not a number of days`, { hint: 'give a whole number, such as 730 (the default)' });
  }
  return days;
}

/** Makes the key pair; returns nothing, prints what was made and how to use it. */
export async function makeSecureBootKey(config: Config, display: (file: string) => string): Promise<void> {
  const key = config.SecureBootKey;
  const certificate = config.SecureBootCertificate;
  if (key === null || certificate === null) throw new UserError('kiln genkey needs SecureBootKey= and SecureBootCertificate= to write to');
  const days = validDays(config.SecureBootValidDays);
  const commonName = expandCommonName(config.SecureBootCommonName);
  if (config.Force === 0) {
    const existing = [];
    for (const file of [key, certificate]) if (await fs.lstat(file).catch(() => undefined)) existing.push(display(file));
    if (existing.length > 0) {
      throw new UserError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}`, {
        hint: `to make new Secure Boot keys, remove ${display(key)} and ${display(certificate)} first, or use --force`,
      });
    }
  }
  const expires = new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  info(`Generating Secure Boot keys rsa:${KEY_BITS} for CN "${commonName}"; they expire in ${days} days (${expires}): roll them over before then`);
  const staging = `.kiln-genkey-${process.pid}`;
  const newKey = path.join(path.dirname(key), `${staging}.key`);
  const newCertificate = path.join(path.dirname(certificate), `${staging}.crt`);
  try {
    await run(
      ['openssl', 'req', '-new', '-x509', '-newkey', `rsa:${KEY_BITS}`, '-keyout', newKey, '-out', newCertificate, '-days', String(days), '-subj', subjectOf(commonName), '-nodes'],
      { what: 'Making the Secure Boot key and certificate', searchPaths: config.ExtraSearchPaths },
    );
    await fs.chmod(newKey, 0o600);
    await fs.chmod(newCertificate, 0o644);
    await fs.rename(newKey, key);
    await fs.rename(newCertificate, certificate);
  } finally {
    await fs.rm(newKey, { force: true });
    await fs.rm(newCertificate, { force: true });
  }
  process.stdout.write(`${display(key)}\n${display(certificate)}\n`);
  info(`  ${display(key)} has no passphrase, so that builds sign unattended: keep it private`);
  info('  SecureBoot=yes signs systemd-boot and the unified kernel images with them (mkosi.secure-boot.key and .crt beside mkosi.default are found by themselves)');
  info(`  enroll the certificate in the firmware's db: openssl x509 -in ${display(certificate)} -outform DER -out db.der`);
}
