/**
 * The Secure Boot key pair (SecureBootKey=, SecureBootCertificate=; mkosi.secure-boot.key and .crt
 * beside the configuration by default, as in mkosi 14). It signs the boot loader and the unified
 * kernel images (SecureBoot=), the expected PCR values (SignExpectedPCR=) and the verity root hash
 * (Verity=signed). kiln reads the key only to check it before the build; tools get its path, never
 * its contents, and nothing kiln prints or writes holds it.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';

/** The key and certificate problems `purpose` (a setting: "SecureBoot=yes") would meet, as one-line messages. */
export async function keyPairProblems(purpose: string, key: string | null, certificate: string | null): Promise<string[]> {
  const problems: string[] = [];
  for (const [setting, file] of [
    ['SecureBootKey', key],
    ['SecureBootCertificate', certificate],
  ] as const) {
    if (file === null) problems.push(`${purpose} needs ${setting}=`);
    else if (!(await fs.access(file).then(() => true, () => false))) {
      problems.push(`${purpose}: ${setting}=${file} does not exist (kiln genkey makes mkosi.secure-boot.key and .crt)`);
    }
  }
  if (problems.length > 0 || key === null || certificate === null) return problems;
  let publicKey: string;
  try {
    publicKey = new X509Certificate(await fs.readFile(certificate)).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    return [`${purpose}: SecureBootCertificate=${certificate} is not a PEM X.509 certificate`];
  }
  let ownPublicKey: string;
  try {
    // Node's errors name the format, never the key's bytes.
    ownPublicKey = createPublicKey(createPrivateKey(await fs.readFile(key))).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    return [`${purpose}: SecureBootKey=${key} is not an unencrypted PEM private key (sbsign and openssl sign unattended)`];
  }
  if (ownPublicKey !== publicKey) problems.push(`${purpose}: SecureBootKey=${key} is not the key of SecureBootCertificate=${certificate}`);
  return problems;
}

/** Whether other users may read the key file: worth a warning, as for mkosi.rootpw. */
export async function keyIsShared(key: string): Promise<boolean> {
  const stat = await fs.stat(key).catch(() => undefined);
  return stat !== undefined && (stat.mode & 0o077) !== 0;
}

/** The certificate's public key as PEM (SubjectPublicKeyInfo): the .pcrpkey section. */
export async function certificatePublicKey(certificate: string): Promise<string> {
  return new X509Certificate(await fs.readFile(certificate)).publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
